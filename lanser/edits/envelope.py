"""The safety envelope: the one road every mutation of the workspace takes.

``preview`` (plan through the jail; nothing written) -> ``apply`` (lock, recover
any crashed transaction, dirty check, stale check, journaled write, history
record, commit) -> optionally verify (:mod:`lanser.edits.verify`) and roll back.
``undo`` and ``recover`` go through the same journal, so they are crash-safe too.

Refusals raise (exit 2, a stable code); :meth:`Envelope.attempt` turns them into a
``refused`` :class:`~lanser.edits.model.ApplyResult` for callers (episodes, the
reward) that score outcomes rather than stop on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lanser.edits import journal
from lanser.edits.filehistory import FileHistory
from lanser.edits.history import GitHistory
from lanser.edits.jail import Jail
from lanser.edits.model import (
    APPLIED,
    ApplyResult,
    DirtyFile,
    Preview,
    StaleContent,
    state_hash,
)
from lanser.edits.plan import plan
from lanser.errors import ConfigError, UsageError
from lanser.lsp.facts import FileChange
from lanser.workspace import Workspace

ROLLBACK_POLICIES = ("new_errors", "never")
VERIFY_SCOPES = ("touched", "workspace")
UNVERIFIED_POLICIES = ("rollback", "keep")


@dataclass(frozen=True)
class Settings:
    """``[edits]`` in lanser.toml (deny globs are read by the jail).

    ``verify_scope`` defaults to the whole workspace: a signature change breaks
    importers the edit never touched, and the service pulls every file's
    diagnostics at once, so seeing them costs little more than the touched files.
    ``"touched"`` narrows verification to the files the edit writes.
    """

    rollback_on: str = "new_errors"
    verify_scope: str = "workspace"
    record: bool = True
    #: an apply whose verification could not finish: rolled back, or kept (exit 1)
    unverified: str = "rollback"

    @classmethod
    def from_workspace(cls, workspace: Workspace) -> Settings:
        section = workspace.config.section("edits")
        settings = cls(str(section.get("rollback_on", "new_errors")),
                       str(section.get("verify_scope", cls.verify_scope)),
                       bool(section.get("record", True)),
                       str(section.get("unverified", cls.unverified)))
        if settings.rollback_on not in ROLLBACK_POLICIES:
            raise ConfigError(f"[edits] rollback_on = {settings.rollback_on!r}: expected one "
                              f"of {', '.join(ROLLBACK_POLICIES)}")
        if settings.unverified not in UNVERIFIED_POLICIES:
            raise ConfigError(f"[edits] unverified = {settings.unverified!r}: expected one "
                              f"of {', '.join(UNVERIFIED_POLICIES)}")
        if settings.verify_scope not in VERIFY_SCOPES:
            raise ConfigError(f"[edits] verify_scope = {settings.verify_scope!r}: expected "
                              f"one of {', '.join(VERIFY_SCOPES)}")
        return settings


@dataclass(frozen=True)
class UndoResult:
    record: str
    files: tuple[str, ...]
    remaining: int

    def to_json(self) -> dict[str, Any]:
        return {"status": "undone", "record": self.record, "files": list(self.files),
                "remaining": self.remaining}


class Envelope:
    """Preview, apply, undo and recover edits of one workspace."""

    def __init__(self, workspace: Workspace, *, allow_dirty: bool = False) -> None:
        self.workspace = workspace
        self.root = workspace.root
        self.allow_dirty = allow_dirty
        self.jail = Jail.for_workspace(workspace)
        self.settings = Settings.from_workspace(workspace)

    @cached_property
    def history(self) -> GitHistory | FileHistory:
        """Applies are recorded on git's ``refs/lanser/applies``, or outside git under
        ``.lanser/applies/``: whatever ``--apply`` writes, ``undo`` can take back."""
        return GitHistory.open(self.root) or FileHistory(self.root)

    @property
    def state_dir(self) -> Path:
        return self.workspace.state_dir

    # -- preview -------------------------------------------------------------------

    def preview(self, changes: Iterable[FileChange], *, origin: str,
                base: dict[str, str] | None = None, symbols: Iterable[str] = ()) -> Preview:
        """Plan ``changes`` against the disk; with ``base``, refuse files changed since."""
        self.recover_pending()
        # Stale before planning: positions recorded against other bytes mean nothing.
        for path, expected in sorted((base or {}).items()):
            target = self.jail.check(path)
            try:
                found = state_hash(target.path.read_bytes())
            except FileNotFoundError:
                found = state_hash(None)
            if found != expected:
                raise StaleContent(f"{path}: changed since the edit was previewed "
                                   f"(expected {expected}, found {found})", path=path)
        return plan(self.jail, changes, origin=origin, symbols=symbols)

    # -- recovery ------------------------------------------------------------------

    def reset_history(self, token: Any) -> None:
        """Point the apply history back at ``token`` (what a rollback or recovery does)."""
        if self.history is not None:
            self.history.reset(token)

    def recover_pending(self) -> journal.Recovery:
        """Recover a crashed transaction if one is pending (no lock taken otherwise)."""
        if not journal.pending(self.root / ".lanser"):
            return journal.Recovery(None)
        return self.recover()

    def recover(self) -> journal.Recovery:
        return recover(self.workspace, self.reset_history)

    # -- apply ---------------------------------------------------------------------

    def _check_dirty(self, preview: Preview) -> None:
        if self.allow_dirty or self.history is None:
            return
        dirty = self.history.dirty([e.path for e in preview.effects if e.before is not None])
        if dirty:
            raise DirtyFile(f"{', '.join(dirty)}: uncommitted changes; commit or stash them, "
                            "or pass --allow-dirty", paths=dirty)

    def _rejail(self, preview: Preview) -> None:
        """Jail again under the lock: a symlink planted since the preview is caught."""
        for effect in preview.effects:
            if self.jail.check(effect.path).rel != effect.path:
                raise StaleContent(f"{effect.path}: now resolves elsewhere (a symlink "
                                   "appeared since the preview)", path=effect.path)

    @contextlib.contextmanager
    def transaction(self, preview: Preview) -> Iterator[journal.Transaction]:
        """Lock, recover, check and write ``preview``; the body commits or rolls back.

        Leaving the body with an exception (or without deciding) rolls back.
        """
        with journal.edit_lock(self.state_dir):
            journal.recover(self.root, self.state_dir, self.reset_history)
            self._rejail(preview)
            self._check_dirty(preview)
            token = self.history.tip() if self.history is not None else None
            txn = journal.begin(self.root, self.state_dir, preview.effects, history=token)
            try:
                yield txn
            finally:
                if not txn.done:
                    txn.rollback(self.reset_history)

    def commit(self, txn: journal.Transaction, preview: Preview) -> str | None:
        """Record the apply on the git ref (when there is git), then make it final."""
        record = None
        if self.history is not None and self.settings.record:
            record = self.history.record(preview.effects, preview.id, txn.history)
        journal.crash_point("recorded")
        txn.commit()
        return record

    def apply(self, preview: Preview) -> ApplyResult:
        """Write ``preview`` all or nothing; refusals raise."""
        with self.transaction(preview) as txn:
            record = self.commit(txn, preview)
        return applied(preview, record=record)

    def attempt(self, action: Callable[[], ApplyResult],
                preview: Preview | None = None) -> ApplyResult:
        """Run ``action``; a refusal (a usage error) becomes a ``refused`` record."""
        try:
            return action()
        except UsageError as exc:
            return ApplyResult.refused(exc, preview)

    # -- undo ----------------------------------------------------------------------

    def undo(self) -> UndoResult:
        """Restore the files of the last recorded apply to their exact previous bytes."""
        history = self.history
        with journal.edit_lock(self.state_dir):
            journal.recover(self.root, self.state_dir, self.reset_history)
            record = history.last()
            if record is None:
                where = "refs/lanser/applies" if isinstance(history, GitHistory) \
                    else ".lanser/applies/"
                raise UsageError(f"nothing to undo: no apply recorded on {where}",
                                 code="nothing_to_undo")
            effects = history.undo_effects(record)
            txn = journal.begin(self.root, self.state_dir, effects, history=record.after)
            try:
                history.reset(record.parent)
                journal.crash_point("undo-reset")
                txn.commit()
            finally:
                if not txn.done:
                    txn.rollback(self.reset_history)
            remaining = history.depth()
        return UndoResult(record.after, tuple(e.path for e in effects), remaining)


def applied(preview: Preview, *, record: str | None = None, verified: bool = False
            ) -> ApplyResult:
    return ApplyResult(APPLIED, preview.id, preview.paths, preview.edit_count,
                       verified=verified, record=record,
                       after=tuple((e.path, e.after_hash) for e in preview.effects))


def recover(workspace: Workspace, reset_history: Callable[[Any], None] | None = None
            ) -> journal.Recovery:
    """Finish a crashed transaction of ``workspace`` under the edit lock.

    Needs no ``[edits]`` settings, so a query command can recover before it reads
    the tree even when the edit config is broken. Without ``reset_history`` the
    git history (if any) of the workspace is reset to the manifest's token.
    """
    if reset_history is None:
        reset_history = (GitHistory.open(workspace.root) or FileHistory(workspace.root)).reset
    with journal.edit_lock(workspace.state_dir):
        return journal.recover(workspace.root, workspace.state_dir, reset_history)
