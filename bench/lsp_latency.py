"""Issue 2: cold start to first diagnostics, and per-request latency, per server.

    .venv/bin/python bench/lsp_latency.py [--files 200] [--requests 50]

On a generated workspace (bench/genworkspace.py) it measures, for basedpyright and
pylsp: time to initialize, time to the first diagnostics of one file, then p50/p95
of each query operation on a warm in-process session; and what a CLI invocation
adds on top (Python start-up and imports: `lanser --help`, `python -c pass`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from genworkspace import generate

from lanser.lsp.registry import get_server
from lanser.lsp.service import LanguageService
from lanser.positions import Position
from lanser.workspace import Workspace


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(root: Path, server: str, requests: int) -> dict:
    ws = Workspace.open(root)
    began = time.perf_counter()
    service = LanguageService(ws, get_server(server), timeout=120)
    await service.start()
    initialized = time.perf_counter() - began
    target = root / "pkg3" / "m5.py"
    await service.diagnostics([target])
    first_diag = time.perf_counter() - began
    def mod(i: int, n: int) -> Path:
        return root / f"pkg{i % 10}" / f"m{n}.py"

    # Positions in generated modules (see genworkspace.MODULE): line 33 col 12 is the
    # call of total_{n-1} in chain_n; line 8 col 7 the class Record{n}; line 22 col 5
    # build_{n}; line 33 col 29 the local `first`.
    ops = {
        "definition": lambda i: service.locations("definition", mod(i, 5), Position(33, 12)),
        "references": lambda i: service.references(mod(i, 4), Position(8, 7)),
        "hover": lambda i: service.hover(mod(i, 5), Position(33, 29)),
        "symbols": lambda i: service.symbols(mod(i, i % 20)),
        "diagnostics": lambda i: service.diagnostics([mod(i, i % 20)]),
    }
    if server != "pylsp":
        ops["calls"] = lambda i: service.calls(mod(i, 4), Position(22, 5), incoming=True)
    latencies = {}
    for name, op in ops.items():
        await op(0)  # warm this path once
        samples = []
        for i in range(requests):
            t = time.perf_counter()
            await op(i)
            samples.append(time.perf_counter() - t)
        latencies[name] = (pct(samples, 0.5), pct(samples, 0.95))
    await service.close()
    return {"initialize_s": initialized, "first_diagnostics_s": first_diag,
            "latency_ms": latencies}


def cli_overhead(runs: int = 15) -> dict:
    def timed(cmd: list[str]) -> float:
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=False)
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1000

    lanser = [sys.executable, "-m", "lanser"]
    return {"python -c pass": timed([sys.executable, "-c", "pass"]),
            "lanser --help": timed([*lanser, "--help"])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--servers", default="basedpyright,pylsp")
    options = parser.parse_args()
    logging.getLogger("pygls").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "ws", options.files)
        for server in options.servers.split(","):
            result = asyncio.run(measure(root, server, options.requests))
            print(f"\n{server}: initialize {result['initialize_s']:.2f} s, "
                  f"first diagnostics {result['first_diagnostics_s']:.2f} s "
                  f"({options.files} files)")
            for name, (p50, p95) in result["latency_ms"].items():
                print(f"  {name:12s} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms")
    print("\nCLI overhead (median wall time):")
    for name, ms in cli_overhead().items():
        print(f"  {name:16s} {ms:7.1f} ms")


if __name__ == "__main__":
    main()
