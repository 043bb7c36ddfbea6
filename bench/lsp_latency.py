"""Issue 2: cold start to first diagnostics, and per-request latency, per server.

    .venv/bin/python bench/lsp_latency.py [--files 200] [--requests 50]

On a generated workspace (bench/genworkspace.py) it measures, for basedpyright and
pylsp: time to initialize, time to the first diagnostics of one file, then p50/p95
of each query operation on a warm in-process session (an operation the server does
not announce is listed as unsupported); and what a CLI invocation adds on top:
`lanser --help` against `python -c pass`, and a real cold query, `lanser definition
... --json --no-daemon`, against the same query answered in this process (server
start, answer and shutdown included in both: the difference is interpreter start-up,
imports and output).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stats import pct_ms
from genworkspace import generate

from lanser.lsp.logs import silence_pygls
from lanser.lsp.registry import get_server
from lanser.lsp.service import PROVIDERS, LanguageService
from lanser.positions import Position
from lanser.queries.ask import ask_in_process
from lanser.queries.ops import BY_NAME
from lanser.workspace import Workspace

#: The query a CLI invocation is timed on (the call of total_4 in chain_5).
CLI_QUERY = ("definition", "pkg3/m5.py", 33, 12)


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
    # build_{n}; line 33 col 29 the local `first` (typed Record{n-1}); line 33 col 34
    # the method call first.scaled.
    def at(op: str, line: int, col: int):
        return lambda i: service.locations(BY_NAME[op].method, mod(i, 5), Position(line, col))

    ops = {
        "definition": at("definition", 33, 12),
        "declaration": at("declaration", 33, 12),
        "type-definition": at("type-definition", 33, 29),
        "implementation": at("implementation", 33, 34),
        "references": lambda i: service.references(mod(i, 4), Position(8, 7)),
        "hover": lambda i: service.hover(mod(i, 5), Position(33, 29)),
        "symbols": lambda i: service.symbols(mod(i, i % 20)),
        "workspace-symbols": lambda i: service.workspace_symbols(f"Record{i % 20}"),
        "diagnostics": lambda i: service.diagnostics([mod(i, i % 20)]),
        "calls": lambda i: service.calls(mod(i, 4), Position(22, 5), incoming=True),
    }
    methods = {name: BY_NAME[name].method for name in ops if name != "diagnostics"}
    latencies: dict[str, tuple[float, float] | None] = {}
    for name, op in ops.items():
        method = methods.get(name)
        if method and not service.session.capabilities.get(PROVIDERS[method]):
            latencies[name] = None  # the server does not announce it
            continue
        await op(0)  # warm this path once
        samples = []
        for i in range(requests):
            t = time.perf_counter()
            await op(i)
            samples.append(time.perf_counter() - t)
        latencies[name] = (pct_ms(samples, 0.5), pct_ms(samples, 0.95))
    await service.close()
    return {"initialize_s": initialized, "first_diagnostics_s": first_diag,
            "latency_ms": latencies}


def cli_overhead(root: Path, server: str, runs: int = 15, query_runs: int = 5) -> dict:
    """Median wall times (ms): start-up alone, and a real cold query with and without
    the CLI around it."""
    def timed(cmd: list[str], n: int) -> float:
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=False, cwd=root)
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1000

    def in_process() -> float:
        op, path, line, col = CLI_QUERY
        request = {"op": op, "path": path, "line": line, "col": col}
        samples = []
        for _ in range(query_runs):
            t = time.perf_counter()
            asyncio.run(ask_in_process(Workspace.open(root), get_server(server), [request],
                                         timeout=120))
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1000

    lanser = [sys.executable, "-m", "lanser"]
    op, path, line, col = CLI_QUERY
    cli = timed([*lanser, op, f"{path}:{line}:{col}", "--json", "--no-daemon",
                 "--server", server], query_runs)
    here = in_process()
    return {"python -c pass": timed([sys.executable, "-c", "pass"], runs),
            "lanser --help": timed([*lanser, "--help"], runs),
            f"{op} --no-daemon (CLI)": cli,
            f"{op} in process": here,
            f"{op}: CLI overhead": cli - here}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--servers", default="basedpyright,pylsp")
    parser.add_argument("--cli-runs", type=int, default=5,
                        help="cold queries timed for the CLI overhead")
    options = parser.parse_args()
    silence_pygls()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "ws", options.files)
        for server in options.servers.split(","):
            result = asyncio.run(measure(root, server, options.requests))
            print(f"\n{server}: initialize {result['initialize_s']:.2f} s, "
                  f"first diagnostics {result['first_diagnostics_s']:.2f} s "
                  f"({options.files} files)")
            for name, pair in result["latency_ms"].items():
                if pair is None:
                    print(f"  {name:18s} unsupported by {server}")
                else:
                    print(f"  {name:18s} p50 {pair[0]:8.2f} ms   p95 {pair[1]:8.2f} ms")
        server = options.servers.split(",")[0]
        print(f"\nCLI overhead (median wall time, {server}):")
        for name, ms in cli_overhead(root, server, query_runs=options.cli_runs).items():
            print(f"  {name:28s} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
