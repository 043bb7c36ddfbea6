"""An agent's unified diff as envelope changes: jailed reads, and a non-diff is invalid.

One function for the episode recorder (a ``patch`` action) and the one-shot reward
(``lanser reward --patch``), so both read only files inside the workspace and price
the same diff the same way (SPEC §11: the one-shot reward is one ``patch`` step).
"""

from __future__ import annotations

from typing import Any

from lanser.episodes.actions import InvalidAction
from lanser.errors import UsageError
from lanser.lsp.facts import FileChange


def patch_changes(envelope: Any, diff: str) -> list[FileChange]:
    """The changes ``diff`` makes, read through ``envelope``'s jail.

    Every path is jailed *before* it is read: a diff naming ``../outside.txt`` is
    refused as ``outside_workspace``, never read from outside the workspace and
    echoed back in a ``patch_mismatch`` message to the agent. Text that is not a
    unified diff, or names no file, raises :class:`InvalidAction` (reason
    ``bad_diff``): a malformed action, priced by the invalid-action penalty, not a
    refusal of a well-formed edit.
    """
    from lanser.edits.sources import from_unified_diff, read_text_or_none

    reads = 0

    def read(rel: str) -> Any:
        nonlocal reads
        reads += 1
        return read_text_or_none(envelope.jail.check(rel).path)

    try:
        return from_unified_diff(diff, read)
    except UsageError as exc:
        # The parser's own complaints (not a diff, no file in it) come before any
        # read; a bad_edit from a read (a directory) is the envelope refusing a path.
        if exc.code == "bad_edit" and reads == 0:
            raise InvalidAction(f"patch: {exc.message}", code="bad_diff") from None
        raise


__all__ = ["patch_changes"]
