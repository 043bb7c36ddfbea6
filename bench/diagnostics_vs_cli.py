"""Issue 15, defect 7: whole-workspace diagnostics, lanser against the server's own CLI.

    .venv/bin/python bench/diagnostics_vs_cli.py PROJECT_DIR [--rounds 3]

On a real project (e.g. python-attrs/attrs cloned under .work/), alternately runs
``lanser diagnostics --json --no-daemon`` (cold: a fresh server each time) and
``basedpyright --outputjson FILE...`` on the very files lanser checks (the same
pinned server, the same configuration), and prints each one's wall time, the
median ratio, and whether the counts per file and severity are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

BIN = Path(sys.executable).parent
SEVERITY = {"error": "error", "warning": "warning", "information": "information"}


def lanser(root: Path) -> tuple[float, Counter]:
    start = time.perf_counter()
    # Bytecode cached, as users have it (this sandbox sets PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run([str(BIN / "lanser"), "diagnostics", "--json", "--no-daemon",
                           "--timeout", "600"], cwd=root, capture_output=True, text=True,
                          check=False, env=env)
    elapsed = time.perf_counter() - start
    answer = json.loads(proc.stdout)
    if "error" in answer:
        raise SystemExit(f"lanser failed: {answer['error']}")
    counts = Counter((f["path"], d["severity"]) for f in answer["files"]
                     for d in f["diagnostics"])
    return elapsed, counts


def cli(root: Path, files: list[str]) -> tuple[float, Counter]:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "basedpyright"), "--outputjson", *files], cwd=root,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    answer = json.loads(proc.stdout)
    counts = Counter((os.path.relpath(d["file"], root), SEVERITY.get(d["severity"], d["severity"]))
                     for d in answer["generalDiagnostics"])
    return elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    root = options.project.resolve()
    from lanser.workspace import Workspace

    files = Workspace.open(root).python_names()
    times: dict[str, list[float]] = {"lanser": [], "basedpyright": []}
    counts: dict[str, Counter] = {}
    for _ in range(options.rounds):
        for name, call in (("lanser", lambda: lanser(root)),
                           ("basedpyright", lambda: cli(root, files))):
            elapsed, found = call()
            times[name].append(elapsed)
            counts[name] = found
    load = os.getloadavg()[0]
    print(f"{root.name}: {len(files)} files, {options.rounds} rounds, load {load:.1f} "
          f"on {os.cpu_count()} cores")
    for name, values in times.items():
        print(f"  {name:13s} median {statistics.median(values):6.2f} s   "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    ratio = statistics.median(times["lanser"]) / statistics.median(times["basedpyright"])
    per_round = [a / b for a, b in zip(times["lanser"], times["basedpyright"], strict=True)]
    print(f"  ratio lanser / basedpyright: {ratio:.2f}x median "
          f"(per round {', '.join(f'{r:.2f}' for r in per_round)})")
    same = counts["lanser"] == counts["basedpyright"]
    totals = {n: dict(sorted(Counter(s for (_, s), k in c.items() for _ in range(k)).items()))
              for n, c in counts.items()}
    print(f"  counts per file and severity identical: {same}; totals {totals}")
    if not same:
        ours, theirs = counts["lanser"], counts["basedpyright"]
        diff = (ours - theirs) + (theirs - ours)
        print(f"  differing: {sorted(diff)[:10]}")


if __name__ == "__main__":
    main()
