"""The tasks a Scorer grades against: :class:`ScoringTask`, what grading needs of a
:class:`lanser.tasks.Task` (read by :func:`lanser.tasks.load_tasks`: a ``tasks.jsonl``,
or a workspace's ``task.toml``/``task.json`` as one task at its ``HEAD``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lanser.errors import UsageError
from lanser.tasks import Task
from lanser.tasks import load_tasks as load_records


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
    #: the task's hidden tests (also in :attr:`fail_to_pass`, which grades them): an
    #: episode served on the task keeps their outcomes out of its observations
    hidden_tests: tuple[str, ...] = ()

    @classmethod
    def of(cls, task: Task, repo_dir: str | Path) -> ScoringTask:
        """What grading needs of ``task``, whose repository is cloned at ``repo_dir``."""
        meta = task.lanser
        # Hidden tests are graded as fail-to-pass tests; only the prompt leaves them out.
        f2p = tuple(dict.fromkeys((*task.fail_to_pass, *meta.hidden_tests)))
        return cls(task.instance_id, str(Path(repo_dir).resolve()), task.base_commit,
                   task.test_patch, f2p, tuple(task.pass_to_pass),
                   meta.test_args, meta.targets, meta.protected, meta.test_patch_visible,
                   tuple(meta.hidden_tests))

    @property
    def lists_tests(self) -> bool:
        return bool(self.fail_to_pass or self.pass_to_pass)

    def test_run_args(self) -> tuple[str, ...]:
        """pytest arguments of a grading run: the listed tests only, when there are any."""
        return (*self.test_args, *sorted(set(self.fail_to_pass) | set(self.pass_to_pass)))


def load_tasks(path: str | Path, repo_dir: str | Path | None = None) -> list[ScoringTask]:
    """Tasks from a JSONL file (``repo_dir``: the clone they are of; else ``repo`` as a
    folder beside the file) or a workspace's task file (its own repository)."""
    path = Path(path)
    out = []
    for record in load_records(path):
        if record.lanser.source == "toml":
            repo = Path(record.repo)
        else:
            repo = Path(repo_dir) if repo_dir is not None else _local_repo(path, record.repo)
        out.append(ScoringTask.of(record, repo))
    return out


def _local_repo(path: Path, repo: str) -> Path:
    local = path.parent / repo.split("/")[-1]
    if not local.is_dir():
        raise UsageError(f"{path}: task repo {repo!r} is not a local directory; pass the "
                         "clone with --repo", code="no_repo")
    return local


__all__ = ["ScoringTask", "load_tasks"]
