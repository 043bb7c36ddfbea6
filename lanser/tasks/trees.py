"""The git side of tasks: a commit split into code and tests, trees with patches laid
over them, and the two views of a task (what the agent sees, what grading runs).

- :func:`split_commit`: a commit's change against its (first) parent, as two
  unified diffs: ``test_patch`` (test files: ``test_*.py``, ``*_test.py``, anything
  under ``tests/`` or ``test/``, every ``conftest.py``) and ``patch`` (the rest);
  binary changes and submodules are reported, not diffed.
- :func:`side`: a commit of base + patches (a private index; the clone's working tree
  is never touched), the revision the sandboxed runner checks out.
- :func:`agent_view`: the base as a fresh git repository with one commit and no
  history: no later commits, branches, tags, reflog or borrowed objects that could
  hold the fix (agents have been seen reading the fix out of ``git log --all``). The
  test_patch is laid over it only when the task marks it visible.
"""

from __future__ import annotations

import fnmatch
import shutil
from dataclasses import dataclass
from pathlib import Path

from lanser import git

#: Paths that are tests (fnmatch on the repository-relative path).
TEST_GLOBS = ("test_*.py", "*/test_*.py", "*_test.py", "tests/*", "*/tests/*", "test/*",
              "*/test/*", "conftest.py", "*/conftest.py", "testing/*", "*/testing/*")


def is_test_path(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, glob) for glob in TEST_GLOBS)


@dataclass(frozen=True)
class Split:
    """A commit's change against its parent, in two parts."""

    commit: str
    parent: str
    test_patch: str
    patch: str
    test_files: tuple[str, ...]
    code_files: tuple[str, ...]
    #: paths git cannot diff as text (binary files, submodules)
    opaque: tuple[str, ...]
    message: str
    created_at: str
    #: the opaque paths that are submodules (gitlinks): no tree to test there
    submodules: tuple[str, ...] = ()


def parents(repo: Path, commit: str) -> list[str]:
    return git.run(repo, "rev-list", "--parents", "-n", "1", commit).split()[1:]


def split_commit(repo: Path, commit: str) -> Split:
    """``commit`` split into its test and code changes against its first parent
    (module docstring)."""
    parent = parents(repo, commit)[0]
    numstat = git.run(repo, "diff", "--numstat", "--no-renames", "-z", parent, commit)
    tests, code, opaque = [], [], []
    for entry in numstat.split("\0"):
        if not entry:
            continue
        added, deleted, path = entry.split("\t", 2)
        if added == "-" and deleted == "-":
            opaque.append(path)
        (tests if is_test_path(path) else code).append(path)
    modes = git.run(repo, "diff", "--raw", "--no-renames", "-z", parent, commit)
    gitlinks = _submodules(modes)
    opaque.extend(p for p in gitlinks if p not in opaque)
    message = git.run(repo, "log", "-1", "--format=%B", commit).strip()
    created = git.run(repo, "log", "-1", "--format=%cI", commit).strip()
    return Split(commit, parent, _diff(repo, parent, commit, tests),
                 _diff(repo, parent, commit, code), tuple(sorted(tests)),
                 tuple(sorted(code)), tuple(sorted(opaque)), message, created,
                 tuple(sorted(gitlinks)))


def _submodules(raw: str) -> list[str]:
    """Paths of gitlinks (mode 160000) in ``git diff --raw -z`` output."""
    out, fields = [], raw.split("\0")
    for i in range(0, len(fields) - 1, 2):
        meta, path = fields[i], fields[i + 1]
        if "160000" in meta.split()[:2] or "160000" in meta.split()[1:2]:
            out.append(path)
    return out


def _diff(repo: Path, parent: str, commit: str, paths: list[str]) -> str:
    if not paths:
        return ""
    return git.run(repo, "diff", "--no-renames", "--binary", "--full-index", parent, commit,
                   "--", *paths)


def side(repo: Path, base: str, *patches: str) -> str:
    """A commit of ``base``'s tree with ``patches`` applied in order (module docstring);
    :class:`lanser.git.PatchDoesNotApply` when one does not fit."""
    tree = git.resolve(repo, base, "tree")
    for patch in patches:
        tree = git.tree_with_patch(repo, tree, patch)
    return git.commit_tree(repo, tree, "lanser task side", parent=git.resolve(repo, base))


def agent_view(task: object, repo_dir: str | Path, dest: str | Path) -> Path:
    """The task's base (plus its test_patch when visible) checked out in ``dest`` (new)
    as a one-commit repository with no history (module docstring)."""
    repo, dest = Path(repo_dir), Path(dest)
    base = task.base_commit
    meta = getattr(task, "lanser", None)
    visible = bool(getattr(meta, "test_patch_visible", False))
    commit = side(repo, base, task.test_patch) if visible else base
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    git.run(dest, "init", "-q")
    archive = git.run(repo, "archive", "--format=tar", commit, binary=True)
    untar(archive, dest)
    git.run(dest, "add", "-A")
    tree = git.run(dest, "write-tree").strip()
    head = git.commit_tree(dest, tree, f"task {task.instance_id}")
    git.run(dest, "update-ref", "HEAD", head)
    return dest


def untar(data: bytes, dest: Path) -> None:
    """Unpack a tar archive (``git archive``) into ``dest``, refusing unsafe members."""
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
