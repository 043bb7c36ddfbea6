"""Synthesized tasks on a real project (issue 18): ``lanser tasks synth`` twice, then
every kept task re-validated.

    .venv/bin/python bench/tasks_synth_bench.py .work/toolz --per-file 1 --max 4

For each clone: runs :func:`lanser.tasks.synth.synth` (``--seed``, ``--per-file``,
``--max`` kept) on HEAD twice and compares the two runs' task lines byte for byte, then
re-validates each kept task (:func:`lanser.tasks.validate_task`: base fails its F2P
tests, the reference patch passes them, P2P passes both) and counts the tasks whose
lists come back the same. Prints one JSON object per repository: mutants tried and kept
per operator, each rejection reason's count, wall time of the first run, tasks per
hour on this machine, the load while it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

from lanser.runner.settings import RunnerSettings
from lanser.tasks import validate_task
from lanser.tasks.synth import synth


def bench(repo: Path, *, seed: int, per_file: int, limit: int, paths: tuple[str, ...],
          settings: RunnerSettings) -> dict[str, object]:
    runs = []
    for _ in range(2):
        began = time.perf_counter()
        found = list(synth(repo, seed=seed, per_file=per_file, limit=limit, paths=paths,
                           settings=settings))
        runs.append((time.perf_counter() - began, found))
    seconds, found = runs[0]
    kept = [(m, c.task) for m, c in found if c.task is not None]
    first = "".join(t.line() for _, t in kept)
    second = "".join(c.task.line() for _, c in runs[1][1] if c.task is not None)
    same = 0
    for _, task in kept:
        verdict = validate_task(task, repo, settings)
        same += (verdict.reason is None and verdict.fail_to_pass == task.fail_to_pass
                 and verdict.pass_to_pass == task.pass_to_pass)
    return {"repo": repo.name, "seed": seed, "per_file": per_file, "max": limit,
            "mutants_tried": len(found),
            "tried_by_operator": dict(sorted(Counter(m.operator for m, _ in found).items())),
            "kept": len(kept),
            "kept_by_operator": dict(sorted(Counter(m.operator for m, _ in kept).items())),
            "rejected": dict(sorted(Counter(c.reason for _, c in found if c.reason).items())),
            "synth_s": round(seconds, 1), "second_run_s": round(runs[1][0], 1),
            "tasks_per_hour": round(len(kept) / seconds * 3600, 1) if seconds else None,
            "mutants_per_hour": round(len(found) / seconds * 3600, 1) if seconds else None,
            "same_bytes_twice": first == second and bool(first),
            "revalidated_identically": f"{same}/{len(kept)}",
            "f2p_sizes": [len(t.fail_to_pass) for _, t in kept],
            "tasks": [t.instance_id for _, t in kept]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-file", type=int, default=1)
    parser.add_argument("--max", type=int, default=4)
    parser.add_argument("--paths", nargs="*", default=[])
    parser.add_argument("--test-timeout", type=float, default=60.0)
    args = parser.parse_args()
    settings = RunnerSettings(timeout=args.test_timeout)
    for repo in args.repos:
        load = os.getloadavg()[0]
        out = bench(repo.resolve(), seed=args.seed, per_file=args.per_file, limit=args.max,
                    paths=tuple(args.paths), settings=settings)
        print(json.dumps({**out, "load_before": round(load, 1),
                          "load_after": round(os.getloadavg()[0], 1),
                          "cores": os.cpu_count()}), flush=True)


if __name__ == "__main__":
    main()
