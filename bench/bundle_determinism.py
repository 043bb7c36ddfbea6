"""Issue 5: bundle determinism over fresh runs, bundling cost, store hit latency.

    .venv/bin/python bench/bundle_determinism.py [--files 200] [--runs 20]

Makes ``--runs`` bundles of every operation on the generated workspace, each
with a fresh server (no store, no daemon), and counts distinct hashes of each
operation's facts and of the whole bundle (each must be 1). Then, on one warm
session, compares the raw request time with the time of the whole bundle (target
resolution, snapshot, wrapping, hashing, storing), and measures answering a
repeated request from the store.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from genworkspace import generate

from lanser.canonical import content_hash
from lanser.lsp.logs import silence_pygls
from lanser.lsp.registry import get_server
from lanser.queries.bundle import query_bundle
from lanser.queries.ops import BUNDLE_OPS
from lanser.workspace import Workspace

LOC = "pkg3/m5.py:33:12"
#: The query of workspace-symbols (the only op without a location).
QUERY = "m5"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    silence_pygls()
    spec = get_server("basedpyright")
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "ws", options.files)
        ws = Workspace.open(root)
        print(f"{options.files}-file workspace, {options.runs} fresh server starts "
              f"(each answers every op in one bundle)")
        per_op: dict[str, set[str]] = {op: set() for op in BUNDLE_OPS}
        whole = set()
        for _ in range(options.runs):
            made, _ = query_bundle(ws, spec, LOC, list(BUNDLE_OPS), query=QUERY, timeout=120,
                                   use_daemon=False, use_store=False)
            whole.add(made["hash"])
            for op in BUNDLE_OPS:
                per_op[op].add(content_hash(made["facts"][op]))
        print(f"{'operation':28s} distinct hashes")
        for op, hashes in per_op.items():
            print(f"{op:28s} {len(hashes)}")
        print(f"{'(the whole bundle)':28s} {len(whole)}")
        timing(root, spec)


def timing(root: Path, spec) -> None:
    """Bundling overhead and store hits, on one warm daemon session."""
    import os
    import subprocess

    env = {**os.environ, "LANSER_RUNTIME_DIR": str(root.parent / "run")}
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "lanser", "daemon", "start"], cwd=root, env=env,
                   check=True, capture_output=True)
    try:
        from lanser.queries.ask import ask

        ws = Workspace.open(root)
        request = [{"op": "definition", "path": "pkg3/m5.py", "line": 33, "col": 12}]
        raw, bundled, hits = [], [], []
        for _ in range(30):
            t = time.perf_counter()
            ask(ws, spec, request, timeout=60)
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            query_bundle(ws, spec, LOC, ["definition"], timeout=60, use_store=False)
            bundled.append(time.perf_counter() - t)
            t = time.perf_counter()
            _, hit = query_bundle(ws, spec, LOC, ["definition"], timeout=60)
            hits.append(time.perf_counter() - t)
            assert hit
    finally:
        subprocess.run([sys.executable, "-m", "lanser", "daemon", "stop"], cwd=root, env=env,
                       check=False, capture_output=True)
    med = statistics.median
    print(f"\nwarm definition, median of 30: raw request {med(raw) * 1000:.1f} ms, "
          f"whole bundle {med(bundled) * 1000:.1f} ms "
          f"(+{(med(bundled) - med(raw)) * 1000:.1f} ms), "
          f"store hit {med(hits) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
