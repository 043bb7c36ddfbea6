"""Issue 3: end-to-end CLI wall time per query, cold (no daemon) vs warm (daemon).

    .venv/bin/python bench/daemon_latency.py [--files 200] [--cold 5] [--warm 40]
    .venv/bin/python bench/daemon_latency.py --side-by-side 40 [--files 50]

Runs the real `lanser ... --json` command as an agent would, on a generated
workspace (bench/genworkspace.py), and prints p50/p95 per operation and the
warm speed-up. Also splits a warm call into Python start-up, our imports and the
rest, with `-X importtime`.

``--side-by-side N`` (issue 15, defect 12) measures only the warm path, N rounds,
each round running in turn `python -c pass`, a warm `definition --json` and the same
query with human output (a pipe: plain lines), all through the `lanser` console
script as users call it, and prints the p50 of each: one run, the same load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stats import pct_ms as pct
from genworkspace import generate

QUERIES = {
    "definition": ["definition", "pkg3/m5.py:33:12"],
    "declaration": ["declaration", "pkg3/m5.py:33:12"],
    "type-definition": ["type-definition", "pkg3/m5.py:33:29"],
    "implementation": ["implementation", "pkg3/m5.py:33:34"],
    "references": ["references", "pkg3/m4.py:8:7"],
    "hover": ["hover", "pkg3/m5.py:33:29"],
    "symbols": ["symbols", "pkg3/m5.py"],
    "calls": ["calls", "pkg3/m4.py:22:5", "--incoming"],
    "diagnostics (1 file)": ["diagnostics", "pkg3/m7.py"],
    "workspace-symbols": ["workspace-symbols", "Record1"],
}


def run(root: Path, args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lanser", *args, "--json"], cwd=root,
                          capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{args} failed: {proc.stdout[-500:]!r} {proc.stderr[-500:]!r}")
    return elapsed


def side_by_side(files: int, rounds: int) -> None:
    script = str(Path(sys.executable).parent / "lanser")
    query = QUERIES["definition"]
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "ws", files)
        env = {**os.environ, "LANSER_RUNTIME_DIR": str(Path(tmp) / "run")}
        # As users run it: Python caches bytecode (this sandbox sets
        # PYTHONDONTWRITEBYTECODE, which recompiles every imported module on every call).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([script, "daemon", "start"], cwd=root, env=env, check=True,
                       capture_output=True)
        full = {**env, "LANSER_NO_FAST_PATH": "1"}  # what human output cost before
        kinds = {"python -c pass": ([sys.executable, "-c", "pass"], env),
                 "definition --json": ([script, *query, "--json"], env),
                 "definition (human, piped)": ([script, *query], env),
                 "  same, full CLI (rich)": ([script, *query], full)}
        times: dict[str, list[float]] = {k: [] for k in kinds}
        try:
            for argv, run_env in kinds.values():  # warm: the files open, caches filled
                subprocess.run(argv, cwd=root, env=run_env, capture_output=True, check=True)
            for _ in range(rounds):
                for name, (argv, run_env) in kinds.items():
                    t = time.perf_counter()
                    subprocess.run(argv, cwd=root, env=run_env, capture_output=True,
                                   check=True)
                    times[name].append(time.perf_counter() - t)
        finally:
            subprocess.run([script, "daemon", "stop"], cwd=root, env=env, check=False,
                           capture_output=True)
    print(f"warm path, {files}-file workspace, {rounds} rounds side by side, load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, bytecode cached")
    base = pct(times["python -c pass"], 0.5)
    for name, values in times.items():
        p50 = pct(values, 0.5)
        print(f"  {name:28s} p50 {p50:6.1f} ms  p95 {pct(values, 0.95):6.1f} ms  "
              f"(+{p50 - base:5.1f} ms over python -c pass)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--warm", type=int, default=40)
    parser.add_argument("--side-by-side", type=int, default=0, metavar="N")
    options = parser.parse_args()
    if options.side_by_side:
        side_by_side(options.files, options.side_by_side)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "ws", options.files)
        env = {**os.environ, "LANSER_RUNTIME_DIR": str(Path(tmp) / "run")}
        cold = {name: [run(root, [*args, "--no-daemon"], env) for _ in range(options.cold)]
                for name, args in QUERIES.items()}
        subprocess.run([sys.executable, "-m", "lanser", "daemon", "start"], cwd=root, env=env,
                       check=True, capture_output=True)
        try:
            warm = {}
            for name, args in QUERIES.items():
                run(root, args, env)  # first warm call opens the files
                warm[name] = [run(root, args, env) for _ in range(options.warm)]
            imports = subprocess.run(
                [sys.executable, "-X", "importtime", "-m", "lanser", *QUERIES["definition"],
                 "--json"], cwd=root, env=env, capture_output=True, text=True, check=True)
        finally:
            subprocess.run([sys.executable, "-m", "lanser", "daemon", "stop"], cwd=root,
                           env=env, check=False, capture_output=True)
        bare = [run_bare() for _ in range(20)]
    print(f"{options.files}-file workspace; cold n={options.cold}, warm n={options.warm}")
    print(f"{'operation':22s} {'cold p50':>9s} {'cold p95':>9s} {'warm p50':>9s} "
          f"{'warm p95':>9s} {'speed-up':>9s}")
    for name in QUERIES:
        c50, c95 = pct(cold[name], 0.5), pct(cold[name], 0.95)
        w50, w95 = pct(warm[name], 0.5), pct(warm[name], 0.95)
        print(f"{name:22s} {c50:8.0f}ms {c95:8.0f}ms {w50:8.1f}ms {w95:8.1f}ms {c50 / w50:8.1f}x")
    ours = sum(int(line.split("|")[0].split(":")[1]) for line in imports.stderr.splitlines()
               if line.startswith("import time:") and "lanser" in line.split("|")[-1])
    total = sum(int(line.split("|")[0].split(":")[1]) for line in imports.stderr.splitlines()
                if line.startswith("import time:") and "|" in line
                and line.split("|")[0].split(":")[1].strip().isdigit())
    print(f"\nbare `python -c pass`: p50 {pct(bare, 0.5):.1f} ms; warm definition imports: "
          f"{total / 1000:.1f} ms in all, {ours / 1000:.1f} ms of it lanser's own modules")


def run_bare() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
