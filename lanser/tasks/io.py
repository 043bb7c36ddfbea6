"""Task files: JSONL of :class:`~lanser.tasks.record.Task`, and the single-task files.

- :func:`load_tasks` reads a ``tasks.jsonl`` (every line validated; ids unique), or a
  workspace's ``task.toml`` / ``task.json`` (the files ``lanser reward --task`` reads)
  as one task at the workspace's ``HEAD`` (:func:`task_from_file`).
- :func:`append_task` adds one line with one ``write`` on an ``O_APPEND`` descriptor,
  then ``fsync``: a run interrupted at any point leaves whole lines only, so a resumed
  ``lanser tasks mine -o`` loses nothing it had written.
- :func:`write_tasks` writes a whole file atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser import git
from lanser.configfiles import tomllib
from lanser.errors import MissingFile, UsageError
from lanser.files import atomic_write
from lanser.jsonio import loads_bounded, read_text_bounded
from lanser.tasks.record import BadTask, Task, TaskMeta

#: Largest tasks file read (a line holds whole patches).
MAX_FILE = 512 << 20


def load_tasks(path: str | Path) -> list[Task]:
    """The tasks in ``path`` (module docstring). :class:`BadTask` (exit 2) names the
    line and field of the first bad record."""
    path = Path(path)
    if path.is_dir() or path.suffix in (".toml", ".json"):
        return [task_from_file(path)]
    if not path.exists():
        raise MissingFile(f"{path}: no such tasks file", path=str(path))
    text = read_text_bounded(path, limit=MAX_FILE, what="tasks file")
    tasks: list[Task] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            data = loads_bounded(line, what=where)
        except UsageError as exc:
            raise BadTask(exc.message) from None
        task = Task.from_json(data, where)
        if task.instance_id in seen:
            raise BadTask(f"{where}: instance_id {task.instance_id!r} repeats")
        seen.add(task.instance_id)
        tasks.append(task)
    return tasks


def seen_ids(path: str | Path) -> set[str]:
    """The instance ids already in ``path`` (none when it does not exist yet)."""
    path = Path(path)
    return {t.instance_id for t in load_tasks(path)} if path.is_file() else set()


def append_task(path: str | Path, task: Task) -> None:
    """Add ``task`` as one line, durably (module docstring)."""
    append_line(path, task.line())


def append_line(path: str | Path, line: str) -> None:
    """Add one whole line (``line`` ends with a newline) with one ``write`` on an
    ``O_APPEND`` descriptor, then ``fsync`` (module docstring)."""
    data = line.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_tasks(path: str | Path, tasks: Iterable[Task]) -> Path:
    return atomic_write(path, "".join(t.line() for t in tasks))


@dataclass(frozen=True)
class TaskFile:
    """What a workspace's ``task.toml``/``task.json`` says (SWE-bench's list names, or
    ``f2p``/``p2p``/``fail_to_pass``/``pass_to_pass``; lists or JSON-encoded lists)."""

    name: str | None
    problem_statement: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    targets: tuple[str, ...]
    test_args: tuple[str, ...]
    protected: tuple[str, ...]

    @classmethod
    def read(cls, file: Path) -> TaskFile:
        data = _read_single(file)
        name = data.get("instance_id") or data.get("name")
        return cls(None if name is None else str(name), str(data.get("problem_statement", "")),
                   _strings(data, file, "FAIL_TO_PASS", "f2p", "fail_to_pass"),
                   _strings(data, file, "PASS_TO_PASS", "p2p", "pass_to_pass"),
                   _strings(data, file, "targets"), _strings(data, file, "test_args"),
                   _strings(data, file, "protected"))


def task_from_file(path: Path) -> Task:
    """A workspace's ``task.toml``/``task.json`` as one task at its ``HEAD`` (no
    test_patch: the tests are in the tree; the agent sees them, as before)."""
    root = path if path.is_dir() else path.parent
    file = path
    if path.is_dir():
        found = [root / n for n in ("task.toml", "task.json") if (root / n).is_file()]
        if not found:
            raise MissingFile(f"{root}: no task.toml or task.json", path=str(root))
        file = found[0]
    fields = TaskFile.read(file)
    top = (git.run(root, "rev-parse", "--show-toplevel", check=False) or "").strip()
    head = (git.run(top, "rev-parse", "HEAD", check=False) or "").strip() if top else ""
    if not head:
        raise UsageError(f"{root}: a workspace task needs a git commit (its base is HEAD)",
                         code="not_git")
    meta = TaskMeta(source="toml", base_tree=git.run(top, "rev-parse", "HEAD^{tree}").strip(),
                    test_args=fields.test_args, targets=fields.targets,
                    protected=fields.protected, test_patch_visible=True)
    return Task(fields.name or Path(top).name, str(Path(top).resolve()), head, "", "",
                fields.problem_statement, fields.fail_to_pass, fields.pass_to_pass,
                lanser=meta)


def _read_single(file: Path) -> dict[str, Any]:
    if not file.exists():
        raise MissingFile(f"{file}: no such task file", path=str(file))
    text = read_text_bounded(file, what="task file")
    try:
        data = tomllib.loads(text) if file.suffix == ".toml" else loads_bounded(text)
    except (UsageError, tomllib.TOMLDecodeError) as exc:
        raise BadTask(f"{file}: not a task file ({exc})") from None
    if not isinstance(data, dict):
        raise BadTask(f"{file}: a task file holds a table (an object)")
    return data


def _strings(data: dict[str, Any], file: Path, *keys: str) -> tuple[str, ...]:
    """The first of ``keys`` present: a list of strings (or one JSON-encoded, as
    SWE-bench stores its lists)."""
    for key in keys:
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, str):
            try:
                value = loads_bounded(value, what=f"{file}: {key}")
            except UsageError:
                raise BadTask(f"{file}: {key} must be a list of strings") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadTask(f"{file}: {key} must be a list of strings")
        return tuple(value)
    return ()
