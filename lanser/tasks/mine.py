"""``lanser tasks mine``: tasks from a repository's history (R2E-Gym / SWE-rebench style).

Each commit on the first-parent line in range (``--since``/``--until``, ``--paths``,
newest first up to ``--limit``, then oldest first so the output order is the
history's) is a candidate: base = its (first) parent, ``test_patch`` = its test
changes, ``patch`` = the rest. A merge on that line is a pull request merged as a
whole, so its change against the first parent is one candidate (SWE-bench's tasks
are pull requests); ``merges=False`` rejects it (``merge_commit``)
(:func:`lanser.tasks.trees.split_commit`). The test files the commit touched run on
base + test_patch and on the commit's tree (:func:`lanser.tasks.validate.check_sides`);
it is kept when at least one test goes fail -> pass and every test that passed before
still passes. The problem statement is the commit message (never the diff).

Resumable: the ids already in the output are skipped; each kept task is appended as
one durable line as soon as it is judged, and each rejection is reported with its
reason (:data:`lanser.tasks.validate.REASONS`) and appended to the output's rejection
log (``tasks.rejected.jsonl`` beside ``tasks.jsonl``), so a resumed run skips the
commits already judged too, except those whose reason another run could change
(``timeout``, ``env_failed``: see :data:`RETRIED`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from lanser import git
from lanser.runner.settings import RunnerSettings
from lanser.tasks.envs import EnvFailed, ensure_env
from lanser.tasks.io import append_line
from lanser.tasks.record import Found, Task, TaskMeta
from lanser.tasks.trees import Split, parents, split_commit
from lanser.tasks.validate import Verdict, check_sides

#: Rejections a resumed run judges again: a longer timeout or a working package index
#: may turn them into tasks. Every other reason is the commit's own content.
RETRIED = ("timeout", "env_failed")


def rejections_file(out: Path) -> Path:
    """Where mining into ``out`` logs its rejections: ``x.jsonl`` -> ``x.rejected.jsonl``."""
    return out.with_name(f"{out.stem if out.suffix == '.jsonl' else out.name}.rejected.jsonl")


def log_rejection(path: Path, found: Found) -> None:
    """Append ``found`` (rejected) to the rejection log as one durable line."""
    append_line(path, json.dumps(found.to_json("commit"), sort_keys=True, ensure_ascii=False,
                                 separators=(",", ":")) + "\n")


def settled_commits(path: Path) -> set[str]:
    """The commits the rejection log at ``path`` says need no second look (none when it
    does not exist). A log, not data: a line that is not a rejection is ignored."""
    if not path.is_file():
        return set()
    out = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("commit"), str) \
                and entry.get("reason") not in (None, *RETRIED):
            out.add(entry["commit"])
    return out


def commits(repo: Path, *, since: str | None = None, until: str | None = None,
            limit: int | None = None, paths: tuple[str, ...] = (),
            rev: str = "HEAD") -> list[str]:
    """The candidate commits, oldest first (module docstring)."""
    args = ["rev-list", "--first-parent"]
    if since:
        args.append(f"--since={since}")
    if until:
        args.append(f"--until={until}")
    if limit:
        args.append(f"--max-count={limit}")
    git.resolve(repo, rev)
    out = git.run(repo, *args, rev, "--", *paths, revision=rev)
    return list(reversed(out.split()))


def instance_id(repo_name: str, commit: str) -> str:
    return f"{repo_name}-{commit[:12]}"


def mine_commit(repo: Path, commit: str, repo_name: str, settings: RunnerSettings, *,
                runs: int = 1, merges: bool = True, envs: bool = False,
                pip_args: tuple[str, ...] = ()) -> Found:
    """One commit judged (module docstring)."""
    count = len(parents(repo, commit))
    if count == 0:
        return Found(commit, reason="root_commit")
    if count > 1 and not merges:
        return Found(commit, reason="merge_commit")
    split = split_commit(repo, commit)
    if not split.test_files:
        return Found(commit, reason="no_test_change")
    if not [p for p in split.code_files if p not in split.opaque]:
        return Found(commit, reason="no_code_change")
    if split.submodules:
        return Found(commit, reason="submodule", detail=", ".join(split.submodules[:5]))
    if split.opaque:
        return Found(commit, reason="binary", detail=", ".join(split.opaque[:5]))
    targets = tuple(p for p in split.test_files if p.endswith(".py")
                    and _exists(repo, commit, p) and not p.endswith("conftest.py"))
    if not targets:
        return Found(commit, reason="no_test_change", detail="no test module remains")
    environment = ""
    if envs:
        try:
            environment, python = ensure_env(repo, split.parent, repo_name=repo_name,
                                             pip_args=pip_args)
        except EnvFailed as exc:
            return Found(commit, reason="env_failed", detail=exc.message)
        settings = replace(settings, python=str(python))
    verdict = check_sides(repo, split.parent, split.test_patch, split.patch, targets,
                          settings, runs=runs)
    if verdict.reason is not None:
        return Found(commit, reason=verdict.reason, detail=verdict.detail)
    task = _task(repo, split, repo_name, verdict)
    return Found(commit, replace(task, lanser=replace(task.lanser,
                                                          environment=environment)))


def _task(repo: Path, split: Split, repo_name: str, verdict: Verdict) -> Task:
    base_tree = git.resolve(repo, split.parent, "tree")
    meta = TaskMeta(source="mined", base_tree=base_tree,
                    targets=tuple(p for p in split.code_files if p.endswith(".py")),
                    python=f"{sys.version_info.major}.{sys.version_info.minor}",
                    origin={"commit": split.commit})
    task = Task(instance_id(repo_name, split.commit), repo_name, split.parent, split.patch,
                split.test_patch, problem_statement(split.message), (), created_at=split.created_at,
                lanser=meta)
    assert verdict.validation is not None
    return task.with_validation(verdict.validation, verdict.fail_to_pass,
                                verdict.pass_to_pass)


_TRAILER = re.compile(r"^(Signed-off-by|Co-authored-by|Reviewed-by|Change-Id):", re.I)


def problem_statement(message: str) -> str:
    """The commit message as a problem statement: its trailers dropped."""
    lines = [line for line in message.splitlines() if not _TRAILER.match(line.strip())]
    return "\n".join(lines).strip()


def _exists(repo: Path, commit: str, path: str) -> bool:
    return git.run(repo, "cat-file", "-e", f"{commit}:{path}", check=False) is not None


def mine(repo: Path, *, repo_name: str | None = None, seen: set[str] | None = None,
         settled: set[str] | None = None, settings: RunnerSettings | None = None,
         runs: int = 1, merges: bool = True,
         envs: bool = False, pip_args: tuple[str, ...] = (),
         on_candidate: Callable[[Found], None] | None = None,
         **selection: object) -> Iterator[Found]:
    """Judge every candidate commit of ``repo`` in history order (module docstring);
    ``seen`` ids and ``settled`` commits (:func:`settled_commits`) are skipped.
    ``selection``: :func:`commits`' filters."""
    name = repo_name or repo.resolve().name
    settings = settings or RunnerSettings()
    for commit in commits(repo, **selection):  # type: ignore[arg-type]
        if seen is not None and instance_id(name, commit) in seen:
            continue
        if settled is not None and commit in settled:
            continue
        found = mine_commit(repo, commit, name, settings, runs=runs, merges=merges,
                            envs=envs, pip_args=pip_args)
        if on_candidate is not None:
            on_candidate(found)
        yield found
