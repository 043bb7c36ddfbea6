"""Tasks from real histories (issue 18): mine, re-validate, score the references.

    .venv/bin/python bench/tasks_bench.py .work/toolz .work/more-itertools --limit 150
    .venv/bin/python bench/tasks_bench.py .work/toolz --synth 2 --max 12

For each clone: mines the newest ``--limit`` first-parent commits (oldest first), then
re-validates every kept task on a second run and checks its lists are the same
(``revalidated_identically``), then grades each task's reference patch and an empty
patch through ``lanser.scoring.predictions`` (tests-only profile): resolved must be 100%
and 0%. Prints one JSON object per repository: candidates looked at, kept, each
rejection reason's count, wall time, tasks per hour on this machine.

With ``--synth PER_FILE``: ``lanser tasks synth`` (seed 0) instead, twice, reporting the
mutants tried, the tasks kept per operator, tasks per hour and whether the two runs
wrote the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from lanser.runner.settings import RunnerSettings
from lanser.scoring.predictions import Prediction, score_predictions
from lanser.scoring.tasks import ScoringTask
from lanser.tasks import mine, validate_task


def bench(repo: Path, limit: int, settings: RunnerSettings) -> dict[str, object]:
    began = time.perf_counter()
    found = list(mine(repo, settings=settings, limit=limit))
    mined_s = time.perf_counter() - began
    kept = [c.task for c in found if c.task is not None]
    reasons = Counter(c.reason for c in found if c.reason)
    same = 0
    for task in kept:
        verdict = validate_task(task, repo, settings)
        same += (verdict.reason is None and verdict.fail_to_pass == task.fail_to_pass
                 and verdict.pass_to_pass == task.pass_to_pass)
    scoring = [ScoringTask.of(t, repo) for t in kept]
    preds = [Prediction(t.instance_id, t.patch, "reference") for t in kept] + \
            [Prediction(t.instance_id, "", "empty") for t in kept]
    lines, _ = score_predictions(scoring, preds, profile="tests-only") if kept else ([], {})
    ref = [line["resolved"] for line in lines if line["model_name_or_path"] == "reference"]
    empty = [line["resolved"] for line in lines if line["model_name_or_path"] == "empty"]
    return {"repo": repo.name, "candidates": len(found), "kept": len(kept),
            "rejected": dict(sorted(reasons.items())), "mine_s": round(mined_s, 1),
            "tasks_per_hour": round(len(kept) / mined_s * 3600, 1) if mined_s else None,
            "candidates_per_hour": round(len(found) / mined_s * 3600),
            "revalidated_identically": f"{same}/{len(kept)}",
            "reference_resolved": f"{sum(ref)}/{len(ref)}",
            "empty_resolved": f"{sum(empty)}/{len(empty)}",
            "tasks": [t.instance_id for t in kept]}


def bench_synth(repo: Path, per_file: int, limit: int,
                settings: RunnerSettings) -> dict[str, object]:
    from lanser.tasks.synth import synth

    runs = []
    for _ in range(2):
        began = time.perf_counter()
        found = list(synth(repo, seed=0, per_file=per_file, limit=limit, settings=settings))
        runs.append((time.perf_counter() - began, found))
    seconds, found = runs[0]
    kept = [(m, c.task) for m, c in found if c.task is not None]
    lines = ["".join(t.line() for _, t in kept)]
    lines.append("".join(c.task.line() for _, c in runs[1][1] if c.task is not None))
    tried = Counter(m.operator for m, _ in found)
    return {"repo": repo.name, "synth_per_file": per_file, "mutants_tried": len(found),
            "tried_by_operator": dict(sorted(tried.items())), "kept": len(kept),
            "kept_by_operator": dict(sorted(Counter(m.operator for m, _ in kept).items())),
            "rejected": dict(sorted(Counter(c.reason for _, c in found if c.reason).items())),
            "synth_s": round(seconds, 1),
            "tasks_per_hour": round(len(kept) / seconds * 3600, 1) if seconds else None,
            "same_bytes_twice": lines[0] == lines[1]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--test-timeout", type=float, default=60.0)
    parser.add_argument("--synth", type=int, default=0, metavar="PER_FILE")
    parser.add_argument("--max", type=int, default=12)
    args = parser.parse_args()
    settings = RunnerSettings(timeout=args.test_timeout)
    os.environ.setdefault("TMPDIR", tempfile.gettempdir())
    print(json.dumps({"load": round(os.getloadavg()[0], 1), "cores": os.cpu_count()}))
    for repo in args.repos:
        if args.synth:
            out = bench_synth(repo.resolve(), args.synth, args.max, settings)
        else:
            out = bench(repo.resolve(), args.limit, settings)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
