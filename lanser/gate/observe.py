"""Both ends of a change, as the gate sees them: git trees, diagnostics, renames.

The diagnostics of both trees are observed the way ``lanser reward`` observes them
(:mod:`lanser.episodes.oneshot`): one scratch checkout of the base tree (objects
borrowed, the user's working tree never written), one warm server following it as
it is reset to the head tree, whole-workspace diagnostics on each, filed in the
store by hash. The text of each diagnostic's line is read from that checkout while
its tree is there, for identity matching and fingerprints.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.episodes import snapshots
from lanser.errors import LanserError, UsageError
from lanser.gate.identity import Observed
from lanser.lsp.facts import Diagnostic
from lanser.positions import Position, Span
from lanser.workspace import Workspace

#: Fixed identity and date: a tree wrapped for the test runner always gets the same commit.
_FIXED = {"GIT_AUTHOR_NAME": "lanser", "GIT_AUTHOR_EMAIL": "lanser@localhost",
          "GIT_COMMITTER_NAME": "lanser", "GIT_COMMITTER_EMAIL": "lanser@localhost",
          "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
          "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}
#: What ``--head`` may name besides a revision.
WORKTREE, STAGED = ":worktree", ":staged"


@dataclass(frozen=True)
class End:
    """One end of the change: what the user named, its commit and tree."""

    rev: str
    commit: str
    tree: str

    def to_json(self) -> dict[str, str]:
        return {"rev": self.rev, "commit": self.commit, "tree": self.tree}


@dataclass(frozen=True)
class Observation:
    """The diagnostics bundle of one end and its diagnostics with their line texts."""

    bundle: dict[str, Any]
    observed: tuple[Observed, ...]


def resolve(workspace: Workspace, rev: str) -> End:
    """A revision, ``:worktree`` (the working tree, untracked files git does not ignore
    included) or ``:staged`` (the index: what ``git commit`` would record)."""
    root = workspace.root
    if rev == WORKTREE:
        from lanser.bundles.snapshot import working_tree_hash

        return _wrapped(root, rev, working_tree_hash(workspace))
    if rev == STAGED:
        return _wrapped(root, rev, snapshots.git(root, "write-tree"))
    try:
        commit = snapshots.git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        tree = snapshots.git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{tree}}")
    except LanserError:
        if rev == "HEAD" and not snapshots.git(root, "rev-list", "-n", "1", "--all"):
            # The first commit of a repository (a pre-commit hook's base): nothing yet.
            empty = snapshots.git(root, "hash-object", "-t", "tree", "-w", "--stdin", input="")
            return _wrapped(root, rev, empty)
        raise UsageError(f"{rev!r} is not a revision of {root}", code="bad_rev") from None
    return End(rev, commit, tree)


def _wrapped(root: Path, rev: str, tree: str) -> End:
    """A tree wrapped in a commit (no ref: the runner only needs ``git archive``)."""
    commit = snapshots.git(root, "commit-tree", tree, "-m", f"lanser ci {tree}", env=_FIXED)
    return End(rev, commit, tree)


def renames(workspace: Workspace, base: str, head: str) -> dict[str, str]:
    """Base path -> head path for files git detects as renamed (content mostly kept)."""
    if base == head:
        return {}
    out = snapshots.git(workspace.root, "diff-tree", "-r", "-M", "--name-status", "-z",
                        base, head)
    fields = [f for f in out.split("\0") if f]
    found: dict[str, str] = {}
    i = 0
    while i < len(fields):
        status = fields[i]
        if status.startswith(("R", "C")):
            if status.startswith("R"):
                found[fields[i + 1]] = fields[i + 2]
            i += 3
        else:
            i += 2
    return found


async def observe(workspace: Workspace, base: End, head: End, spec: Any, *,
                  timeout: float) -> tuple[Observation, Observation]:
    """Whole-workspace diagnostics of both trees, from one server in one scratch copy."""
    from lanser.bundles.store import BundleStore
    from lanser.episodes.observer import Observer

    with tempfile.TemporaryDirectory(prefix="lanser-ci-") as tmp:
        scratch = snapshots.materialize(workspace, base.tree, Path(tmp) / "ws")
        copy = Workspace.open(scratch)
        async with Observer(copy, spec, timeout=timeout, test_timeout=timeout,
                            remember=False) as observer:
            observer.store = BundleStore(workspace)
            first = await observer.diagnostics(base.tree)
            before = Observation(first, _observed(first, scratch))
            if head.tree == base.tree:
                return before, before
            snapshots.git(scratch, "read-tree", "-u", "--reset", head.tree)
            second = await observer.diagnostics(head.tree)
            return before, Observation(second, _observed(second, scratch))


def diagnostics_of(bundle: dict[str, Any]) -> list[Diagnostic]:
    """A diagnostics bundle's facts back as records."""
    out = []
    for entry in bundle["facts"]["files"]:
        for d in entry["diagnostics"]:
            span = Span(Position(d["line"], d["col"]), Position(d["end_line"], d["end_col"]))
            out.append(Diagnostic(d["path"], span, d["severity"], d["message"], d.get("source"),
                                  d.get("code"), tuple(d.get("tags") or ())))
    return out


def _observed(bundle: dict[str, Any], root: Path) -> tuple[Observed, ...]:
    lines: dict[str, list[str]] = {}
    out = []
    for diagnostic in diagnostics_of(bundle):
        if diagnostic.path not in lines:
            try:
                text = (root / diagnostic.path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            lines[diagnostic.path] = text.splitlines()
        file_lines = lines[diagnostic.path]
        index = diagnostic.span.start.line - 1
        line = file_lines[index].strip() if 0 <= index < len(file_lines) else ""
        out.append(Observed(diagnostic, line))
    return tuple(out)


__all__ = ["STAGED", "WORKTREE", "End", "Observation", "diagnostics_of", "observe", "renames",
           "resolve"]
