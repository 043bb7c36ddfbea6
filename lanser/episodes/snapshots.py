"""Episode snapshots as git objects: taken from the working tree, kept alive, rebuilt.

A snapshot is git's tree hash of the working tree (the same identity bundles carry,
:func:`lanser.bundles.snapshot.working_tree_hash`). To survive ``git gc`` each tree
is wrapped in a commit with a fixed author, date and message, so the commit hash is
a function of the tree alone, and pointed at by ``refs/lanser/snapshots/<tree>``: one
ref per distinct snapshot, content-addressed, so two episodes that reach the same
state share it and no episode can overwrite another's. ``materialize`` checks a
snapshot out into a fresh directory that is itself a git repository (borrowing the
objects through ``alternates``), so a lanser workspace opened there has the same
snapshot identity as the recorded one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lanser import git as gateway
from lanser.bundles.snapshot import working_tree_hash
from lanser.errors import UsageError
from lanser.git import FIXED_IDENTITY
from lanser.workspace import Workspace

REF_PREFIX = "refs/lanser/snapshots/"
#: Fixed identity and date: the wrapping commit depends on the tree only.
_FIXED = FIXED_IDENTITY


@dataclass(frozen=True)
class Snapshot:
    tree: str
    commit: str

    def to_json(self) -> dict[str, str]:
        return {"tree": self.tree, "commit": self.commit}


def identity(tree: str) -> dict[str, str]:
    """The snapshot identity bundles carry for a git tree."""
    return {"kind": "git-tree", "tree": tree}


def git(root: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None
        ) -> str:
    """``git ARGS`` in ``root`` through the gateway, its output stripped."""
    return gateway.run(root, *args, env=env, input=input).strip()


def require_git(workspace: Workspace) -> None:
    if not workspace.is_git:
        raise UsageError(f"{workspace.root}: episodes need a git repository (snapshots are "
                         "git trees); run `git init` there first", code="not_git")


def keep(workspace: Workspace, tree: str) -> Snapshot:
    """Wrap ``tree`` in its fixed commit and point its ref at it (idempotent)."""
    commit = git(workspace.root, "commit-tree", tree, "-m", f"lanser snapshot {tree}",
                 env=_FIXED)
    git(workspace.root, "update-ref", REF_PREFIX + tree, commit)
    return Snapshot(tree, commit)


def take(workspace: Workspace) -> Snapshot:
    """The working tree as it is now, written to git and kept alive."""
    return keep(workspace, working_tree_hash(workspace))


def of_rev(workspace: Workspace, rev: str) -> Snapshot:
    """The snapshot of a revision (a commit, tag, branch or tree)."""
    return keep(workspace, gateway.resolve(workspace.root, rev, "tree"))


def tree_changes(workspace: Workspace, base_tree: str, tree: str
                 ) -> tuple[list[str], list[str]]:
    """Paths whose content differs between two trees, and those of them ``tree``
    lacks (deleted), each sorted; one ``git diff-tree`` (no rename detection: a move
    is a deletion and an addition, as the functional reads it)."""
    if base_tree == tree:
        return [], []
    out = git(workspace.root, "diff-tree", "-r", "--no-renames", "--name-status", "-z",
              base_tree, tree)
    fields = [f for f in out.split("\0") if f]
    pairs = list(zip(fields[0::2], fields[1::2], strict=True))
    return sorted(p for _, p in pairs), sorted(p for s, p in pairs if s == "D")


def materialize(workspace: Workspace, tree: str, dest: Path) -> Path:
    """Check ``tree`` out into ``dest`` (new) as a git repository; returns ``dest``.

    The objects are borrowed, not copied (``objects/info/alternates``); the tree is
    committed there with the fixed identity so the copy is clean for the dirty check.
    """
    dest.mkdir(parents=True)
    git(dest, "init", "-q")
    objects = Path(git(workspace.root, "rev-parse", "--git-path", "objects"))
    if not objects.is_absolute():
        objects = workspace.root / objects
    alternates = dest / ".git" / "objects" / "info" / "alternates"
    alternates.write_text(str(objects.resolve()) + "\n", encoding="utf-8")
    git(dest, "read-tree", tree)
    git(dest, "checkout-index", "-a", "-f")
    commit = git(dest, "commit-tree", tree, "-m", f"lanser snapshot {tree}", env=_FIXED)
    git(dest, "update-ref", "HEAD", commit)
    return dest
