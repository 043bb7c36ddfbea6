"""``lanser tasks mine|synth|validate|import|show|score``: verifiable SWE tasks (issue 18).

Library: :mod:`lanser.tasks` (record, files, mining, validation, views) and
:mod:`lanser.scoring.predictions` (grading SWE-bench predictions). Task files are
JSONL, one task per line; ``-o`` appends, and a rerun skips the ids already there.
Exit status: 0 done (rejections are reported, not errors), 1 ``validate`` found a
task that no longer holds, 2 bad input, 3 the runner or git failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lanser.cli.common import JsonOpt, emit_json
from lanser.cli.progress import ProgressBar
from lanser.cli.score import ExecutorOpt, RayAddressOpt, check_executor

tasks_app = typer.Typer(help="Verifiable SWE tasks: mine, synth, validate, import, show, score.",
                        no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("-o", "--out", help="Tasks JSONL (appended to; ids "
                                      "already there are skipped; mine logs its rejections "
                                      "beside it, X.rejected.jsonl, and skips those too).")]
TasksArg = Annotated[Path, typer.Argument(help="A tasks JSONL (or a workspace's task.toml).")]
RepoDirOpt = Annotated[Path | None, typer.Option(
    "--repo", "--repo-dir", help="The local clone the tasks' base commits are in (default: "
    "each task's repo as a folder next to the tasks file).", show_default=False)]
TestTimeoutOpt = Annotated[float | None, typer.Option(
    "--test-timeout", help="Seconds one test may run (default 60, or [runner] timeout).",
    show_default=False)]
RunsOpt = Annotated[int, typer.Option("--runs", min=1, help="Runs of each side; a test "
                                      "whose outcome changes is flaky (dropped).")]


def register(app: typer.Typer) -> None:
    tasks_app.command("mine")(mine)
    tasks_app.command("synth")(synth)
    tasks_app.command("envs")(envs)
    tasks_app.command("validate")(validate)
    tasks_app.command("import")(import_)
    tasks_app.command("show")(show)
    tasks_app.command("score")(score)
    app.add_typer(tasks_app, name="tasks")


def _settings(repo: Path, test_timeout: float | None) -> Any:
    from lanser.config import load_config
    from lanser.runner.settings import RunnerSettings

    return RunnerSettings.of(load_config(repo), timeout=test_timeout)


def _repo(path: Path) -> Path:
    from lanser import git
    from lanser.errors import UsageError

    if not path.is_dir() or git.toplevel(path) is None:
        raise UsageError(f"{path}: not a git repository", code="not_git")
    return path.resolve()


def mine(repo: Annotated[Path, typer.Argument(help="A local git clone.")], out: OutOpt,
         since: Annotated[str | None, typer.Option("--since", help="Commits after this date.",
                                                   show_default=False)] = None,
         until: Annotated[str | None, typer.Option("--until", help="Commits before this date.",
                                                   show_default=False)] = None,
         limit: Annotated[int | None, typer.Option("--limit", min=1, help="Newest N commits "
                                                   "in range.", show_default=False)] = None,
         paths: Annotated[list[str] | None, typer.Option(
             "--paths", help="Only commits touching these paths (repeatable).")] = None,
         rev: Annotated[str, typer.Option("--rev", help="Walk history from here.")] = "HEAD",
         env: Annotated[bool, typer.Option(
             "--env/--no-env", help="Run each candidate's tests in a cached venv of its "
             "dependencies (built with pip; default: lanser's own interpreter).")] = False,
         pip_arg: Annotated[list[str] | None, typer.Option(
             "--pip-arg", help="An argument for pip when building an environment "
             "(repeatable: --pip-arg=--no-index).")] = None,
         merges: Annotated[bool, typer.Option(
             "--merges/--no-merges", help="A merged pull request (a merge on the first-parent "
             "line) is one candidate, against its first parent.")] = True,
         runs: RunsOpt = 1, test_timeout: TestTimeoutOpt = None,
         json_out: JsonOpt = False) -> int:
    """Tasks from a git history: commits changing code and tests whose tests go fail -> pass."""
    from lanser.tasks import append_task, seen_ids
    from lanser.tasks import mine as mine_history
    from lanser.tasks.mine import log_rejection, rejections_file, settled_commits

    root = _repo(repo)
    seen = seen_ids(out)
    log = rejections_file(out)
    settled = settled_commits(log)
    rejected: list[dict[str, Any]] = []
    summary = _Tally()
    with ProgressBar("mining", quiet=json_out) as bar:
        for found in mine_history(root, seen=seen, settled=settled,
                                  settings=_settings(root, test_timeout),
                                  runs=runs, merges=merges, envs=env,
                                  pip_args=tuple(pip_arg or ()), since=since, until=until,
                                  limit=limit,
                                  paths=tuple(paths or ()), rev=rev):
            if found.task is not None:
                append_task(out, found.task)
            else:
                log_rejection(log, found)
                rejected.append(found.to_json("commit"))
            summary.add(found.reason)
            bar.advance(f"{found.source[:12]} {found.reason or 'kept'}")
    payload = {"out": str(out), "rejections": str(log), "skipped_seen": len(seen),
               "skipped_settled": len(settled), **summary.to_json(),
               "candidates": rejected}
    if json_out:
        emit_json(payload)
    else:
        for line in rejected:
            print(f"{line['commit'][:12]}  {line['reason']}  {line['detail'][:100]}")
        print(summary.line(out))
    return 0


def synth(repo: Annotated[Path, typer.Argument(help="A local git clone.")], out: OutOpt,
          seed: Annotated[int, typer.Option("--seed", help="Which mutants are sampled.")] = 0,
          per_file: Annotated[int, typer.Option("--per-file", min=1,
                                                help="Mutants tried per source file.")] = 3,
          max_tasks: Annotated[int | None, typer.Option(
              "--max", min=1, help="Stop after this many tasks.", show_default=False)] = None,
          paths: Annotated[list[str] | None, typer.Option(
              "--paths", help="Only these files or folders (repeatable).")] = None,
          rev: Annotated[str, typer.Option("--rev", help="The clean revision.")] = "HEAD",
          test_timeout: TestTimeoutOpt = None, json_out: JsonOpt = False) -> int:
    """Tasks from seeded bugs the project's own tests catch (the same seed, the same
    tasks)."""
    from lanser.tasks import append_task, seen_ids
    from lanser.tasks.synth import synth as synth_tasks

    root = _repo(repo)
    seen = seen_ids(out)
    rejected: list[dict[str, Any]] = []
    summary = _Tally()
    kept_by_operator: dict[str, int] = {}
    with ProgressBar("synthesizing", quiet=json_out) as bar:
        for mutant, found in synth_tasks(root, rev=rev, seed=seed, per_file=per_file,
                                         limit=max_tasks, paths=tuple(paths or ()),
                                         settings=_settings(root, test_timeout), seen=seen):
            if found.task is not None:
                append_task(out, found.task)
                kept_by_operator[mutant.operator] = kept_by_operator.get(mutant.operator, 0) + 1
            else:
                rejected.append({"mutant": f"{mutant.operator} {mutant.path}:{mutant.line}",
                                 "reason": found.reason, "detail": found.detail[:300]})
            summary.add(found.reason)
            bar.advance(f"{mutant.path}:{mutant.line} {found.reason or 'kept'}")
    payload = {"out": str(out), **summary.to_json(), "kept_by_operator":
               dict(sorted(kept_by_operator.items())), "candidates": rejected}
    if json_out:
        emit_json(payload)
    else:
        for line in rejected:
            print(f"{line['mutant']}  {line['reason']}")
        print(summary.line(out).replace("commit(s)", "mutant(s)"))
    return 0


def envs(clear: Annotated[bool, typer.Option("--clear", help="Remove them all.")] = False,
         json_out: JsonOpt = False) -> int:
    """The cached task environments (one per repository, dependency spec and Python)."""
    from lanser.tasks import envs as task_envs

    root = task_envs.cache_dir() / "envs"
    found = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    removed = task_envs.clear() if clear else 0
    if json_out:
        emit_json({"dir": str(root), "envs": found, "removed": removed})
    else:
        for name in found:
            print(name)
        print(f"{len(found)} environment(s) in {root}" + (f"; removed {removed}" if clear
                                                           else ""))
    return 0


def validate(tasks: TasksArg, repo: RepoDirOpt = None, runs: RunsOpt = 1,
             out: Annotated[Path | None, typer.Option(
                 "-o", "--out", help="Write the tasks that hold, revalidated (JSONL).",
                 show_default=False)] = None,
             test_timeout: TestTimeoutOpt = None, json_out: JsonOpt = False) -> int:
    """Re-run each task: F2P fail on base + test_patch and pass with the patch, P2P pass
    both times; with --runs N, flaky tests are found and dropped."""
    from lanser.tasks import load_tasks, validate_task, write_tasks

    records = load_tasks(tasks)
    lines, kept = [], []
    with ProgressBar("validating", quiet=json_out) as bar:
        for task in records:
            root = _repo(_repo_of(tasks, task, repo))
            verdict = validate_task(task, root, _settings(root, test_timeout), runs=runs)
            ok = verdict.reason is None
            if ok and verdict.validation is not None:
                kept.append(task.with_validation(verdict.validation, verdict.fail_to_pass,
                                                 verdict.pass_to_pass))
            lines.append({"instance_id": task.instance_id, "valid": ok,
                          "reason": verdict.reason, "detail": verdict.detail[:500],
                          "flaky": list(verdict.validation.flaky) if verdict.validation
                          else []})
            bar.advance(f"{task.instance_id} {verdict.reason or 'valid'}")
    if out is not None:
        write_tasks(out, kept)
    payload = {"tasks": lines, "valid": len(kept), "total": len(records)}
    if json_out:
        emit_json(payload)
    else:
        for line in lines:
            print(f"{line['instance_id']}  {'valid' if line['valid'] else line['reason']}"
                  f"  {line['detail'][:100]}".rstrip())
        print(f"{len(kept)} of {len(records)} valid")
    return 0 if len(kept) == len(records) else 1


def import_(instances: Annotated[Path, typer.Argument(
                help="SWE-bench / SWE-Gym instances (JSON list or JSONL).")],
            repo: Annotated[Path, typer.Option("--repo-dir", "--repo",
                                               help="The local clone of their repository.")],
            out: OutOpt, json_out: JsonOpt = False) -> int:
    """Convert SWE-bench-style instances into lanser tasks (base commits from the clone)."""
    from lanser.tasks import append_task, seen_ids
    from lanser.tasks.imports import import_instance, read_instances

    root = _repo(repo)
    seen = seen_ids(out)
    results = [import_instance(data, root) for data in read_instances(instances)]
    written = 0
    for found in results:
        if found.task is not None and found.source not in seen:
            append_task(out, found.task)
            written += 1
    rejected = [{"instance_id": r.source, "reason": r.reason, "detail": r.detail}
                for r in results if r.task is None]
    payload = {"out": str(out), "imported": written, "rejected": rejected}
    if json_out:
        emit_json(payload)
    else:
        for line in rejected:
            print(f"{line['instance_id']}  {line['reason']}  {line['detail']}")
        print(f"imported {written}, rejected {len(rejected)} -> {out}")
    return 0


def show(tasks: TasksArg, instance_id: Annotated[str | None, typer.Argument(
             help="The task to show (default: list them).")] = None,
         json_out: JsonOpt = False) -> int:
    """One task, readable (or a line per task)."""
    from lanser.errors import UsageError
    from lanser.tasks import load_tasks

    records = load_tasks(tasks)
    if instance_id is None:
        if json_out:
            emit_json({"tasks": [{"instance_id": t.instance_id, "f2p": len(t.fail_to_pass),
                                  "p2p": len(t.pass_to_pass), "source": t.lanser.source}
                                 for t in records]})
        for t in records if not json_out else ():
            print(f"{t.instance_id}  {t.lanser.source}  f2p {len(t.fail_to_pass)}  "
                  f"p2p {len(t.pass_to_pass)}")
        return 0
    found = [t for t in records if t.instance_id == instance_id]
    if not found:
        raise UsageError(f"{tasks}: no task {instance_id!r}", code="unknown_instance")
    task = found[0]
    if json_out:
        emit_json(task.to_json())
        return 0
    print(f"{task.instance_id}  ({task.lanser.source}, base {task.base_commit[:12]}, "
          f"{task.repo})\n")
    print(task.problem_statement.strip() + "\n")
    for name, ids in (("FAIL_TO_PASS", task.fail_to_pass), ("PASS_TO_PASS", task.pass_to_pass)):
        print(f"{name} ({len(ids)}):")
        for nodeid in ids:
            print(f"  {nodeid}")
    print(f"\npatch: {_size(task.patch)}   test_patch: {_size(task.test_patch)}")
    return 0


def score(tasks: TasksArg,
          predictions: Annotated[Path, typer.Argument(
              help="SWE-bench predictions: instance_id, model_patch, model_name_or_path.")],
          repo: RepoDirOpt = None,
          out: Annotated[Path | None, typer.Option(
              "-o", "--out", help="Results JSONL (default: stdout with --json).",
              show_default=False)] = None,
          profile: Annotated[str, typer.Option("--profile", help="Reward profile.")] = "default",
          workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
          test_timeout: TestTimeoutOpt = None, json_out: JsonOpt = False,
          executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None) -> int:
    """Grade predictions: resolved, F2P/P2P outcomes and lanser's reward per instance."""
    check_executor(executor)
    from lanser.cli.output import dumps
    from lanser.files import atomic_write
    from lanser.scoring.predictions import read_predictions, score_predictions
    from lanser.scoring.tasks import load_tasks

    records = load_tasks(tasks, repo)
    lines, summary = score_predictions(records, read_predictions(predictions), profile=profile,
                                       workers=workers, test_timeout=test_timeout or 60.0,
                                       executor=executor, ray_address=ray_address)
    if out is not None:
        atomic_write(out, "".join(dumps(line) + "\n" for line in lines))
    if json_out:
        emit_json({"results": lines if out is None else [], "summary": summary})
    else:
        for line in lines:
            print(f"{line['instance_id']}  {'resolved' if line['resolved'] else 'unresolved'}"
                  f"  reward {line['reward']}  {line['reason'] or ''}".rstrip())
        print(f"resolved {summary['resolved']} of {summary['predictions']} "
              f"({summary['resolved_rate']:.0%})")
    return 0


def _repo_of(tasks_file: Path, task: Any, given: Path | None) -> Path:
    if task.lanser.source == "toml":
        return Path(task.repo)
    if given is not None:
        return given
    return tasks_file.parent / str(task.repo).split("/")[-1]


def _size(text: str) -> str:
    files = text.count("\ndiff --git ") + text.startswith("diff --git ")
    return f"{files} file(s), {len(text.splitlines())} lines"


class _Tally:
    def __init__(self) -> None:
        from collections import Counter

        self.looked_at, self.kept, self.reasons = 0, 0, Counter()

    def add(self, reason: str | None) -> None:
        self.looked_at += 1
        if reason is None:
            self.kept += 1
        else:
            self.reasons[reason] += 1

    def to_json(self) -> dict[str, Any]:
        return {"looked_at": self.looked_at, "kept": self.kept,
                "rejected": dict(sorted(self.reasons.items()))}

    def line(self, out: Path) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items()))
        return (f"looked at {self.looked_at} commit(s), kept {self.kept} -> {out}"
                + (f"; rejected: {reasons}" if reasons else ""))
