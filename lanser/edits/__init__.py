"""The safety envelope (pillar 3): preview, jail, stale check, journaled apply, verify, undo.

Every mutation lanser makes goes through :class:`Envelope`; edits arrive as
:class:`lanser.lsp.facts.FileChange` lists (from a server, a WorkspaceEdit file or
a unified diff, see :mod:`lanser.edits.sources`) and leave as an
:class:`ApplyResult` record (``applied``, ``refused``, ``rolled_back``).
"""

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

__all__ = [
    "APPLIED", "DEFAULT_DENY", "REFUSED", "ROLLED_BACK", "ApplyResult", "Denied",
    "DirtyFile", "EditConflict", "EditRefused", "Envelope", "FileEffect", "Jail",
    "PatchMismatch", "Preview", "Settings", "StaleContent", "UndoResult",
]
