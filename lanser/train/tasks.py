"""The tasks a trainer samples: what the prompt shows and where the base can be read.

The trainer needs little of a task: an id, the problem statement, the failing tests,
and a checkout of the base it can read context from. :class:`TrainTask` is that view.
Two sources:

- a folder of ``task.toml`` workspaces (each a git repository at the task's base,
  with ``task.toml``: ``name``, ``problem_statement``, ``FAIL_TO_PASS``,
  ``PASS_TO_PASS``, ``targets``, ``test_args``), or one such workspace;
- a ``tasks.jsonl`` of :class:`lanser.tasks.Task` records: each agent view (the base,
  no history) is materialized from ``repos/<repo name>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.errors import MissingFile, UsageError


@dataclass(frozen=True)
class TrainTask:
    """One task as the trainer sees it (the agent's view; never the reference patch)."""

    instance_id: str
    problem_statement: str
    root: Path
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    test_args: tuple[str, ...] = ()


def from_toml(path: Path) -> TrainTask:
    """The task of one ``task.toml`` workspace (its folder is the base checkout)."""
    from lanser.tasks.io import TaskFile

    fields = TaskFile.read(path)
    root = path.resolve().parent
    return TrainTask(fields.name or root.name, fields.problem_statement, root,
                     fields.fail_to_pass, fields.pass_to_pass, fields.targets,
                     fields.test_args)


def load(path: str | Path, *, repos: Path | None = None,
         views: Path | None = None) -> list[TrainTask]:
    """Tasks from a folder of workspaces, one workspace, or a ``tasks.jsonl``; sorted by id."""
    path = Path(path)
    if path.is_dir():
        files = [path / "task.toml"] if (path / "task.toml").is_file() else \
            sorted(path.glob("*/task.toml"))
        if not files:
            raise UsageError(f"{path}: no task.toml here or in its sub-folders",
                             code="no_tasks")
        tasks = [from_toml(f) for f in files]
    elif path.suffix == ".jsonl":
        tasks = _from_jsonl(path, repos, views)
    elif path.name == "task.toml":
        tasks = [from_toml(path)]
    else:
        raise MissingFile(f"{path}: not a tasks.jsonl, a task.toml or a folder of them",
                          path=str(path))
    ids = [t.instance_id for t in tasks]
    if len(set(ids)) != len(ids):
        raise UsageError(f"{path}: duplicate task ids", code="bad_task")
    return sorted(tasks, key=lambda t: t.instance_id)


def _from_jsonl(path: Path, repos: Path | None, views: Path | None) -> list[TrainTask]:
    """``lanser.tasks`` records (the shared contract), each given an agent view."""
    from lanser.tasks import agent_view, load_tasks

    if repos is None or views is None:
        raise UsageError("a tasks.jsonl needs --repos DIR (the clones, by repository "
                         "name)", code="usage")
    out = []
    for task in load_tasks(path):
        repo_dir = repos / str(task.repo).split("/")[-1]
        root = Path(agent_view(task, repo_dir, views / task.instance_id))
        out.append(TrainTask(task.instance_id, task.problem_statement, root,
                             tuple(task.fail_to_pass), tuple(task.pass_to_pass),
                             task.lanser.targets, task.lanser.test_args))
    return out


def split(tasks: Sequence[TrainTask], held_out: int) -> tuple[list[TrainTask], list[TrainTask]]:
    """(train, held out): every task whose index is ``≡ 0 mod n`` held out, if ``n > 0``."""
    if held_out <= 0:
        return list(tasks), []
    return ([t for i, t in enumerate(tasks) if i % held_out],
            [t for i, t in enumerate(tasks) if not i % held_out])


def describe(task: TrainTask) -> dict[str, Any]:
    return {"instance_id": task.instance_id, "fail_to_pass": list(task.fail_to_pass)}


__all__ = ["TrainTask", "from_toml", "load", "split"]
