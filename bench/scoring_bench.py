"""Scoring at trainer speed (issue 19): warm workers vs the naive harness, side by side.

    .venv/bin/python bench/scoring_bench.py [--files 200] [--candidates 30] [--naive 3]

Measures, on a generated 200-file workspace (bench/genworkspace.py) made a task with
a hidden test_patch (one F2P and one P2P test):

1. diagnostics-only reward of one candidate on a warm worker (in process), p50/p95,
   including parse, apply, observe, reward and reset (each candidate a different
   body edit, so no answer is remembered);
2. with tests: per-candidate time against bare ``python -m pytest`` of the same
   selected tests on a copy, measured in the same loop (overhead ratio);
3. a group of 16 on 2 workers vs 1 (warm), and whether the bytes are the same;
4. the naive harness a user would write (fresh clone + fresh server + whole-workspace
   diagnostics, + full pytest for the tests variant) per candidate.

The machine may be loaded: compare the ratios, which are measured in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stats import pct_ms
from genworkspace import generate

from lanser.rewards import load_profile
from lanser.scoring import Scorer, ScoringTask
from lanser.scoring.worker import Job, Worker, WorkerConfig

TEST_FILE = "tests/test_bench.py"
BASE_TEST = ("from pkg0.m1 import total_1, build_1\n\n\n"
             "def test_p2p():\n    assert total_1(build_1(3)) == 6\n")
TEST_PATCH = (f"--- a/{TEST_FILE}\n+++ b/{TEST_FILE}\n@@ -5,0 +6,4 @@\n+\n+\n"
              "+def test_f2p():\n+    assert build_1(2)[1].scaled(5) == 5\n")


def make_task(root: Path, files: int) -> ScoringTask:
    generate(root, files, git=False)
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").touch()
    (root / TEST_FILE).write_text(BASE_TEST)
    env = ["-c", "user.name=b", "-c", "user.email=b@x", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *env, *args], cwd=root, check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, text=True,
                          capture_output=True, check=True).stdout.strip()
    return ScoringTask("bench-1", str(root), head, TEST_PATCH, (f"{TEST_FILE}::test_f2p",),
                       (f"{TEST_FILE}::test_p2p",))


def candidate(n: int) -> str:
    """A body edit of a different module each time (a SEARCH/REPLACE block)."""
    pkg, idx = divmod(n % 200, 20)
    idx = max(idx, 1)
    return (f"pkg{pkg}/m{idx}.py\n<<<<<<< SEARCH\n    return [Record{idx}(i, \"r{idx}\") for "
            f"i in range(count)]\n=======\n    return [Record{idx}(i * {n % 7 + 1}, \"r{idx}\") "
            f"for i in range(count)]\n>>>>>>> REPLACE\n")


async def warm_latency(task: ScoringTask, profile: str, count: int,
                       bare: bool = False) -> tuple[list[float], list[float]]:
    """Per-candidate seconds on a warm in-process worker; with ``bare``, bare pytest
    of the selected tests on a copy of the graded tree, interleaved."""
    worker = Worker(WorkerConfig({task.instance_id: task}, load_profile(profile),
                                 timeout=600.0, test_timeout=600.0))
    try:
        first = await worker.score(Job(0, task.instance_id, candidate(0)))  # prepare + warm
        assert first.status == "ok", first
        times, bares = [], []
        grader = worker.graders[task.instance_id]
        for n in range(1, count + 1):
            began = time.perf_counter()
            result = await worker.score(Job(n, task.instance_id, candidate(n)))
            times.append(time.perf_counter() - began)
            assert result.status == "ok", result
            if bare:
                bares.append(bare_pytest(grader.root, task))
        return times, bares
    finally:
        await worker.close()


def bare_pytest(root: Path, task: ScoringTask) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "c"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git", ".lanser"))
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        *task.test_run_args()], cwd=copy, capture_output=True, check=False)
        return time.perf_counter() - began


def group_speedup(task: ScoringTask, rounds: int = 5) -> dict[str, object]:
    """A group of 16 on 1 and on 2 warm workers, ``rounds`` times in turn (the
    median of each: one group is ~1 s, and a shared machine's noise is not), each
    round's group new edits (answers for the same files' same bytes are remembered).

    The machine's own ceiling, measured the same way: two independent 1-worker
    Scorers scoring half the group each at the same time (no shared dispatcher, no
    shared anything). A 2-core VM whose cores are shared gives less than 2x there."""
    from concurrent.futures import ThreadPoolExecutor

    times: dict[str, list[float]] = {"1w": [], "2w": [], "2x1w": []}
    blobs = {}
    with Scorer([task], "diagnostics-only", workers=1, timeout=600.0) as one, \
            Scorer([task], "diagnostics-only", workers=2, timeout=600.0) as two, \
            Scorer([task], "diagnostics-only", workers=1, timeout=600.0) as other, \
            ThreadPoolExecutor(2) as threads:
        for scorer in (one, two, other):  # prepare + warm every worker
            scorer.score_group(task.instance_id, [candidate(100 + n) for n in range(4)])
        for round_ in range(rounds):  # new edits each round: nothing is remembered
            group = [candidate(16 * round_ + n) for n in range(16)]
            for name, scorer in (("1w", one), ("2w", two)):
                began = time.perf_counter()
                results = scorer.score_group(task.instance_id, group)
                times[name].append(time.perf_counter() - began)
                blobs[name] = [json.dumps(r.to_json(), sort_keys=True) for r in results]
            group = [candidate(1000 + 16 * round_ + n) for n in range(16)]
            began = time.perf_counter()
            halves = [threads.submit(s.score_group, task.instance_id, part)
                      for s, part in ((one, group[:8]), (other, group[8:]))]
            for half in halves:
                half.result()
            times["2x1w"].append(time.perf_counter() - began)
    median = {name: statistics.median(t) for name, t in times.items()}
    out: dict[str, object] = {f"group16_{name}_s": round(m, 3) for name, m in median.items()}
    out["speedup_2w"] = round(median["1w"] / median["2w"], 2)
    out["machine_ceiling_2x1w"] = round(median["1w"] / median["2x1w"], 2)
    out["same_bytes"] = blobs["1w"] == blobs["2w"]
    return out


async def naive_once(task: ScoringTask, n: int, tests: bool) -> float:
    """Fresh clone + fresh server + whole-workspace diagnostics (+ full pytest)."""
    from lanser.lsp.registry import get_server
    from lanser.lsp.service import LanguageService
    from lanser.scoring.completion import parse_completion
    from lanser.scoring.patching import resolve
    from lanser.workspace import Workspace

    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", task.repo_dir, str(root)], check=True)
        subprocess.run(["git", "apply", "-"], input=task.test_patch, text=True, cwd=root,
                       check=True)
        found = resolve(parse_completion(candidate(n)),
                        lambda p: (root / p).read_text() if (root / p).is_file() else None)
        for path, text in found.contents.items():
            (root / path).write_text(text or "")
        async with LanguageService(Workspace.open(root), get_server("basedpyright")) as svc:
            await svc.diagnostics()
        if tests:
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=root, capture_output=True, check=False)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--naive", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma list: diag,tests,group,naive")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    report: dict[str, object] = {"files": args.files}
    with tempfile.TemporaryDirectory(prefix="scoring-bench-") as tmp:
        task = make_task(Path(tmp) / "repo", args.files)
        if "diag" not in skip:
            times, _ = asyncio.run(warm_latency(task, "diagnostics-only", args.candidates))
            report["diag_p50_ms"] = round(pct_ms(times, 0.5), 1)
            report["diag_p95_ms"] = round(pct_ms(times, 0.95), 1)
        if "tests" not in skip:
            n = max(3, args.candidates // 5)
            times, bares = asyncio.run(warm_latency(task, "default", n, bare=True))
            report["tests_p50_ms"] = round(pct_ms(times, 0.5), 1)
            report["bare_pytest_p50_ms"] = round(pct_ms(bares, 0.5), 1)
            report["tests_overhead"] = round(pct_ms(times, 0.5) / pct_ms(bares, 0.5) - 1, 3)
        if "group" not in skip:
            report.update(group_speedup(task))
        if "naive" not in skip:
            naive_d = [asyncio.run(naive_once(task, 200 + i, False)) for i in range(args.naive)]
            naive_t = [asyncio.run(naive_once(task, 300 + i, True)) for i in range(args.naive)]
            report["naive_diag_p50_ms"] = round(pct_ms(naive_d, 0.5), 1)
            report["naive_tests_p50_ms"] = round(pct_ms(naive_t, 0.5), 1)
            if "diag_p50_ms" in report:
                report["vs_naive_diag"] = round(report["naive_diag_p50_ms"]  # type: ignore[operator]
                                                / report["diag_p50_ms"], 1)
            if "tests_p50_ms" in report:
                report["vs_naive_tests"] = round(report["naive_tests_p50_ms"]  # type: ignore[operator]
                                                 / report["tests_p50_ms"], 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
