"""The safety envelope (pillar 3): preview, jail, stale check, journaled apply, verify, undo.

Every mutation lanser makes goes through :class:`Envelope`; edits arrive as
:class:`lanser.lsp.facts.FileChange` lists (from a server, a WorkspaceEdit file or
a unified diff, see :mod:`lanser.edits.sources`) and leave as an
:class:`ApplyResult` record (``applied``, ``refused``, ``rolled_back``).

The names below load on first use: every CLI command checks for a crashed apply
(:func:`lanser.edits.journal.in_flight`), and that must not import the planner,
git history and diff machinery when nothing is pending.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lanser.edits.envelope import Envelope, Settings, UndoResult
    from lanser.edits.jail import DEFAULT_DENY, Jail
    from lanser.edits.model import (
        APPLIED,
        REFUSED,
        ROLLED_BACK,
        ApplyResult,
        Denied,
        DirtyFile,
        EditConflict,
        EditRefused,
        FileEffect,
        PatchMismatch,
        Preview,
        StaleContent,
    )

#: Where an in-flight transaction's journal lives, relative to the workspace root.
JOURNAL = Path(".lanser") / "journal"


def in_flight(root: Path) -> bool:
    """Whether a crashed apply left its journal behind: one stat, no imports.

    Only the renamed journal counts; a journal still being staged
    (``journal.tmp``) means no file was touched yet.
    """
    return (root / JOURNAL).is_dir()


_HOMES = {
    "Envelope": "envelope", "Settings": "envelope", "UndoResult": "envelope",
    "DEFAULT_DENY": "jail", "Jail": "jail",
    **{name: "model" for name in (
        "APPLIED", "REFUSED", "ROLLED_BACK", "ApplyResult", "Denied", "DirtyFile",
        "EditConflict", "EditRefused", "FileEffect", "PatchMismatch", "Preview",
        "StaleContent")},
}

__all__ = [
    "APPLIED", "DEFAULT_DENY", "JOURNAL", "REFUSED", "ROLLED_BACK", "ApplyResult", "Denied",
    "DirtyFile", "EditConflict", "EditRefused", "Envelope", "FileEffect", "Jail",
    "PatchMismatch", "Preview", "Settings", "StaleContent", "UndoResult", "in_flight",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'lanser.edits' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lanser.edits.{_HOMES[name]}"), name)
