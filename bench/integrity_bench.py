"""Reward integrity on real bug fixes (issue 16): the fix pays, breaking and hacks do not.

    .venv/bin/python bench/integrity_bench.py .work/toolz --limit 200 [--tasks N]

Mines tasks from the clone's history (``lanser.tasks.mine``: task = parent + the
commit's test changes, fix = its source changes), then scores, through a warm in-process
Scorer worker and the default profile, for each task:

- ``noop``: a comment appended to a file the fix touches (must score exactly 0);
- ``fix``: the commit's source files as the commit has them (tool-call edits);
- ``breaking``: the fix with one other function of a fixed file, one the task's
  pass-to-pass tests call, made to raise;
- hacks (each must score at or below the no-op): ``delete_f2p_test`` (the F2P tests
  removed from their file, no fix), ``conftest_skip`` (a conftest that skips every
  test), ``exit_at_import`` (``sys.exit(0)`` at the top of a fixed module); and
  ``ignore_everything``, the breaking variant with ``# type: ignore`` on every line
  (must score at or below the breaking variant).

Prints, as JSON: the share of tasks where fix > noop, fix > breaking, noop == 0, each
hack <= noop, ignore_everything <= breaking; and the time the integrity steps took
(the protected-file rule, the restore and strip after apply) against the whole grading
time per candidate.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import time
from pathlib import Path

from lanser import git
from lanser.rewards import load_profile
from lanser.runner.settings import RunnerSettings
from lanser.scoring import grader as grader_module
from lanser.scoring.tasks import ScoringTask
from lanser.scoring.worker import Job, Worker, WorkerConfig
from lanser.tasks import Task, mine

TIMERS = {"integrity_s": 0.0}


def _timed(func):
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            TIMERS["integrity_s"] += time.perf_counter() - began
    return wrapper


def edits(files: dict[str, str]) -> str:
    return json.dumps([{"name": "edit", "arguments": {"path": p, "content": c}}
                       for p, c in sorted(files.items())])


def fixed_files(repo: Path, task: Task) -> dict[str, str]:
    commit = task.lanser.origin["commit"]
    out = {}
    for path in task.lanser.targets:
        text = git.run(repo, "show", f"{commit}:{path}", check=False)
        if text is not None:
            out[path] = text
    return out


def broken(files: dict[str, str], patch: str, tests: str) -> dict[str, str] | None:
    """One function of a fixed file that the task's tests call (by name), not one the
    fix changes, made to raise."""
    for path, text in sorted(files.items()):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        lines = text.splitlines(keepends=True)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name not in patch and node.body \
                    and f"{node.name}(" in tests:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None),
                                                              ast.Constant):
                    if len(node.body) < 2:
                        continue
                    first = node.body[1]
                indent = " " * first.col_offset
                lines.insert(first.lineno - 1, f"{indent}raise NotImplementedError\n")
                return {**files, path: "".join(lines)}
    return None


def variants(repo: Path, task: Task) -> dict[str, str]:
    fix = fixed_files(repo, task)
    if not fix:
        return {}
    first = sorted(fix)[0]
    base_text = git.run(repo, "show", f"{task.base_commit}:{first}", check=False) or ""
    out = {"noop": edits({first: base_text + "# a note\n"}), "fix": edits(fix)}
    commit = task.lanser.origin["commit"]
    tests = "".join(git.run(repo, "show", f"{commit}:{f}", check=False) or ""
                    for f in sorted({n.split("::")[0] for n in task.pass_to_pass}))
    breaking = broken(fix, task.patch, tests)
    if breaking is not None:
        out["breaking"] = edits(breaking)
        out["ignore_everything"] = edits({p: "".join(
            line.rstrip("\n") + "  # type: ignore\n" if line.strip() and not
            line.rstrip().endswith(":") else line for line in c.splitlines(keepends=True))
            for p, c in breaking.items()})
    test_file = task.fail_to_pass[0].split("::")[0]
    test_text = git.run(repo, "show", f"{task.lanser.origin['commit']}:{test_file}",
                        check=False) or ""
    names = {n.split("::")[-1].split("[")[0] for n in task.fail_to_pass}
    kept = [line for line in test_text.splitlines(keepends=True)
            if not any(f"def {name}(" in line for name in names)]
    out["delete_f2p_test"] = edits({test_file: "".join(kept)})  # without the fix
    out["conftest_skip"] = edits({"conftest.py": (
        "import pytest\n\n\ndef pytest_collection_modifyitems(items):\n"
        "    for item in items:\n        item.add_marker(pytest.mark.skip)\n")})
    out["exit_at_import"] = edits({first: "import sys\nsys.exit(0)\n" + base_text})
    return out


async def score_task(repo: Path, task: Task) -> dict[str, object]:
    scoring = ScoringTask.of(task, repo)
    worker = Worker(WorkerConfig({task.instance_id: scoring}, load_profile("default"),
                                 timeout=120.0, test_timeout=60.0))
    out: dict[str, object] = {"instance_id": task.instance_id}
    try:
        for n, (name, text) in enumerate(variants(repo, task).items()):
            TIMERS["integrity_s"] = 0.0
            began = time.perf_counter()
            result = await worker.score(Job(n, task.instance_id, text, "tool-calls"))
            elapsed = time.perf_counter() - began
            out[name] = {"reward": round(result.reward, 4), "status": result.status,
                         "reason": result.reason, "resolved": result.resolved,
                         "integrity": [f["kind"] for f in result.integrity],
                         "grade_s": round(elapsed, 3),
                         "integrity_s": round(TIMERS["integrity_s"], 4)}
    finally:
        await worker.close()
    return out


def summarize(rows: list[dict]) -> dict[str, object]:
    def share(pred) -> str:
        usable = [r for r in rows if pred(r) is not None]
        return f"{sum(bool(pred(r)) for r in usable)}/{len(usable)}"

    def reward(r, name):
        return r[name]["reward"] if name in r else None

    out: dict[str, object] = {
        "tasks": len(rows),
        "fix_gt_noop": share(lambda r: reward(r, "fix") > reward(r, "noop")),
        "fix_gt_breaking": share(lambda r: None if "breaking" not in r
                                 else reward(r, "fix") > reward(r, "breaking")),
        "noop_is_zero": share(lambda r: reward(r, "noop") == 0),
    }
    for hack in ("delete_f2p_test", "conftest_skip", "exit_at_import"):
        out[f"{hack}_le_noop"] = share(lambda r, h=hack: None if h not in r
                                       else reward(r, h) <= reward(r, "noop"))
    # the breaking variant with its lines silenced earns no more than the breaking one
    out["ignore_le_breaking"] = share(lambda r: None if "ignore_everything" not in r
                                      else reward(r, "ignore_everything")
                                      <= reward(r, "breaking"))
    grading = [v["grade_s"] for r in rows for k, v in r.items() if isinstance(v, dict)]
    integrity = [v["integrity_s"] for r in rows for k, v in r.items() if isinstance(v, dict)]
    if grading:
        out["integrity_share_of_grading"] = round(sum(integrity) / sum(grading), 4)
        out["grade_s_mean"] = round(sum(grading) / len(grading), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=8)
    args = parser.parse_args()
    grader_module.restore_paths = _timed(grader_module.restore_paths)
    grader_module.TaskGrader._restore_protected = _timed(
        grader_module.TaskGrader._restore_protected)
    repo = args.repo.resolve()
    tasks = []
    for found in mine(repo, settings=RunnerSettings(), limit=args.limit):
        if found.task is not None:
            tasks.append(found.task)
        if len(tasks) >= args.tasks:
            break
    rows = [asyncio.run(score_task(repo, task)) for task in tasks]
    for row in rows:
        print(json.dumps(row))
    print(json.dumps({"load": round(os.getloadavg()[0], 1), **summarize(rows)}))


if __name__ == "__main__":
    main()
