"""Tasks from real histories (issue 18): mine, re-validate, score the references.

    .venv/bin/python bench/tasks_bench.py .work/toolz .work/more-itertools --limit 150

For each clone: mines the newest ``--limit`` first-parent commits (oldest first), then
re-validates every kept task on a second run and checks its lists are the same
(``revalidated_identically``), then grades each task's reference patch and an empty
patch through ``lanser.scoring.predictions`` (tests-only profile): resolved must be 100%
and 0%. Prints one JSON object per repository: candidates looked at, kept, each
rejection reason's count, wall time, tasks per hour on this machine.

Synthesized tasks have their own bench: ``bench/tasks_synth_bench.py``.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=150)
    parser.add_argument("--test-timeout", type=float, default=60.0)
    args = parser.parse_args()
    settings = RunnerSettings(timeout=args.test_timeout)
    os.environ.setdefault("TMPDIR", tempfile.gettempdir())
    print(json.dumps({"load": round(os.getloadavg()[0], 1), "cores": os.cpu_count()}))
    for repo in args.repos:
        print(json.dumps(bench(repo.resolve(), args.limit, settings)), flush=True)


if __name__ == "__main__":
    main()
