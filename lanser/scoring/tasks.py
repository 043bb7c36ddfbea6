"""The tasks a Scorer grades against, read through one small adapter.

The task record belongs to ``lanser.tasks`` (issue 18: SWE-bench keys plus a
``lanser`` object). Until that package is on main, :func:`load_tasks` reads the same
JSONL itself (SWE-bench's keys, the ``lanser`` object's ``test_args``, ``targets``,
``protected`` and ``test_patch_visible``), and a workspace's task file
(``task.json`` / ``task.toml`` at the root of a git workspace, the files
``lanser reward --task`` reads) as one task at ``HEAD``. When ``lanser.tasks`` is
importable its ``load_tasks``/``task_from_toml`` are used instead and their records
adapted by :meth:`ScoringTask.of`; nothing else in :mod:`lanser.scoring` reads task
files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser import git
from lanser.configfiles import tomllib
from lanser.errors import MissingFile, UsageError


@dataclass(frozen=True)
class ScoringTask:
    """What grading needs of a task: where its base is, its tests, what is protected."""

    instance_id: str
    repo_dir: str
    base_commit: str
    test_patch: str = ""
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    test_args: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    test_patch_visible: bool = False

    @classmethod
    def of(cls, task: Any, repo_dir: str | Path) -> ScoringTask:
        """From a ``lanser.tasks.Task`` (or anything with its attribute names)."""
        meta = getattr(task, "lanser", None)
        return cls(task.instance_id, str(Path(repo_dir).resolve()), task.base_commit,
                   task.test_patch, tuple(task.fail_to_pass), tuple(task.pass_to_pass),
                   tuple(getattr(meta, "test_args", ())), tuple(getattr(meta, "targets", ())),
                   tuple(getattr(meta, "protected", ())),
                   bool(getattr(meta, "test_patch_visible", False)))

    @property
    def lists_tests(self) -> bool:
        return bool(self.fail_to_pass or self.pass_to_pass)

    def test_run_args(self) -> tuple[str, ...]:
        """pytest arguments of a grading run: the listed tests only, when there are any."""
        return (*self.test_args, *sorted(set(self.fail_to_pass) | set(self.pass_to_pass)))


def load_tasks(path: str | Path, repo_dir: str | Path | None = None) -> list[ScoringTask]:
    """Tasks from a JSONL file (``repo_dir``: the clone they are of) or a workspace.

    A directory, or a ``.json``/``.toml`` file, is a workspace task (module
    docstring). Raises :class:`UsageError` (exit 2) on a bad file, duplicate ids, or
    a JSONL without ``repo_dir`` whose ``repo`` is not a local directory.
    """
    path = Path(path)
    if path.is_dir() or path.suffix in (".json", ".toml"):
        return [_workspace_task(path)]
    if not path.is_file():
        raise MissingFile(f"{path}: no such task file", path=str(path))
    try:
        from lanser.tasks import load_tasks as load_records  # issue 18, once on main
    except ImportError:
        records: list[Any] = _read_jsonl(path)
    else:
        records = list(load_records(path))
    out = []
    for record in records:
        repo = repo_dir if repo_dir is not None else _local_repo(path, record.repo)
        out.append(ScoringTask.of(record, repo))
    ids = [t.instance_id for t in out]
    if len(set(ids)) != len(ids):
        raise UsageError(f"{path}: instance ids repeat", code="bad_task")
    return out


def _local_repo(path: Path, repo: str) -> Path:
    local = (path.parent / repo)
    if not local.is_dir():
        raise UsageError(f"{path}: task repo {repo!r} is not a local directory; pass the "
                         "clone with --repo", code="no_repo")
    return local


@dataclass(frozen=True)
class _Meta:
    test_args: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    test_patch_visible: bool = False


@dataclass(frozen=True)
class _Record:
    instance_id: str
    repo: str
    base_commit: str
    test_patch: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    lanser: _Meta


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):  # SWE-bench stores the lists JSON-encoded
        try:
            value = json.loads(value)
        except ValueError:
            raise UsageError(f"{what}: not a JSON list", code="bad_task") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{what}: must be a list of strings", code="bad_task")
    return tuple(value)


def _record(data: Any, where: str) -> _Record:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: a task is a JSON object", code="bad_task")
    for key in ("instance_id", "repo", "base_commit"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise UsageError(f"{where}: {key!r} must be a non-empty string", code="bad_task")
    meta = data.get("lanser") or {}
    if not isinstance(meta, dict):
        raise UsageError(f"{where}: 'lanser' must be an object", code="bad_task")
    return _Record(data["instance_id"], data["repo"], data["base_commit"],
                   str(data.get("test_patch") or ""),
                   _strings(data.get("FAIL_TO_PASS", []), f"{where}: FAIL_TO_PASS"),
                   _strings(data.get("PASS_TO_PASS", []), f"{where}: PASS_TO_PASS"),
                   _Meta(_strings(meta.get("test_args", []), f"{where}: lanser.test_args"),
                         _strings(meta.get("targets", []), f"{where}: lanser.targets"),
                         _strings(meta.get("protected", []), f"{where}: lanser.protected"),
                         bool(meta.get("test_patch_visible", False))))


def _read_jsonl(path: Path) -> list[_Record]:
    out = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}:{number}: not JSON ({exc})", code="bad_task") from None
            out.append(_record(data, f"{path}:{number}"))
    return out


def _workspace_task(path: Path) -> ScoringTask:
    """A workspace's own task file, graded at its ``HEAD`` (no test_patch)."""
    root = path if path.is_dir() else path.parent
    if path.is_dir():
        found = [root / n for n in ("task.toml", "task.json") if (root / n).is_file()]
        file = found[0] if found else None
    else:
        file = path
    data: dict[str, Any] = {}
    if file is not None:
        try:
            raw = file.read_text(encoding="utf-8")
            data = tomllib.loads(raw) if file.suffix == ".toml" else json.loads(raw)
        except FileNotFoundError:
            raise MissingFile(f"{file}: no such task file", path=str(file)) from None
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{file}: not a task file ({exc})", code="bad_task") from None
    top = (git.run(root, "rev-parse", "--show-toplevel", check=False) or "").strip()
    if not top:
        raise UsageError(f"{root}: a workspace task needs git (its base is HEAD)",
                         code="not_git")
    head = (git.run(top, "rev-parse", "HEAD", check=False) or "").strip()
    if not head:
        raise UsageError(f"{top}: no commit to grade against", code="not_git")
    f2p = data.get("FAIL_TO_PASS", data.get("f2p", data.get("fail_to_pass", [])))
    p2p = data.get("PASS_TO_PASS", data.get("p2p", data.get("pass_to_pass", [])))
    name = data.get("instance_id") or data.get("name") or Path(top).name
    return ScoringTask(str(name), str(Path(top).resolve()), head, "",
                       _strings(f2p, f"{file}: FAIL_TO_PASS"),
                       _strings(p2p, f"{file}: PASS_TO_PASS"),
                       _strings(data.get("test_args", []), f"{file}: test_args"),
                       _strings(data.get("targets", []), f"{file}: targets"),
                       _strings(data.get("protected", []), f"{file}: protected"), True)


__all__ = ["ScoringTask", "load_tasks"]
