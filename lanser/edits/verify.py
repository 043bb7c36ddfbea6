"""Verify after apply: fresh diagnostics before and after, and the rollback policy.

Errors are compared as identities, not positions (an edit moves code): an error
after the apply is *new* unless an error before it has the same file, code and
message, or failing that the same file and code (a rename changes the names inside
messages). Files renamed by the edit are compared under their new names. By
default every file of the workspace is compared (``[edits] verify_scope``), so an
importer the edit broke without touching it counts too. Only errors count;
``[edits] rollback_on = "new_errors"`` (default) rolls the apply back when there
is any, ``"never"`` keeps it and still reports them. Files the server did not answer
in time are compared on neither side, and make the verification incomplete:
``[edits] unverified = "rollback"`` (default) or ``"keep"`` (exit 1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lanser.edits.envelope import Envelope, applied
from lanser.edits.model import ROLLED_BACK, ApplyResult, EditRefused, Preview
from lanser.lsp.facts import Diagnostic

if TYPE_CHECKING:
    from lanser.lsp.service import LanguageService

_PYTHON = (".py", ".pyi")


def new_errors(before: Iterable[Diagnostic], after: Iterable[Diagnostic],
               renames: dict[str, str] | None = None) -> list[Diagnostic]:
    """Errors in ``after`` that ``before`` does not account for, in sorted order."""
    renames = renames or {}
    old = [d for d in before if d.severity == "error"]
    exact = Counter((renames.get(d.path, d.path), d.code, d.message) for d in old)
    loose = Counter((renames.get(d.path, d.path), d.code) for d in old)
    unmatched = []
    for diag in sorted((d for d in after if d.severity == "error"), key=lambda d: d.sort_key):
        key = (diag.path, diag.code, diag.message)
        if exact[key] > 0:
            exact[key] -= 1
            loose[(diag.path, diag.code)] -= 1
        else:
            unmatched.append(diag)
    found = []
    for diag in unmatched:
        if loose[(diag.path, diag.code)] > 0:
            loose[(diag.path, diag.code)] -= 1
        else:
            found.append(diag)
    return found


class SyntaxBroken(EditRefused):
    code = "syntax_error"


def refuse_syntax_errors(preview: Preview) -> None:
    """Refuse an edit that leaves a Python file unparsable when it parsed before.

    tree-sitter decides (milliseconds, no server): a file that was already broken
    may stay broken, so an agent can repair a file in several steps.
    """
    from lanser.selectors.pytree import has_syntax_error

    for effect in preview.effects:
        if effect.after is None or not effect.path.endswith(_PYTHON):
            continue
        if has_syntax_error(effect.after) and not (
                effect.before is not None and has_syntax_error(effect.before)):
            raise SyntaxBroken(f"{effect.path}: the edit leaves a syntax error",
                               path=effect.path)


def _python(paths: Iterable[str]) -> list[str]:
    return sorted(p for p in paths if p.endswith(_PYTHON))


async def apply_verified(envelope: Envelope, preview: Preview, service: LanguageService, *,
                         keep_unverified: bool | None = None) -> ApplyResult:
    """Apply ``preview`` with diagnostics of ``service`` checked before and after.

    ``service`` is a started :class:`lanser.lsp.service.LanguageService` on the same
    workspace (ideally tracking the disk). The journal stays open while the server
    looks, so a crash during verification is rolled back by the next recovery.

    Before and after cover the same files: a file whose diagnostics were not ready on
    either side is left out of both (its old errors must not count as new), and the
    verdict says verification was incomplete (issue 15, defects 3 and 4). An
    incomplete verification is not a pass: the apply is rolled back (reason
    ``unverified``), or kept unverified when ``keep_unverified`` (or ``[edits]
    unverified = "keep"``) says so, which the CLI reports with exit 1.
    """
    root = envelope.root
    whole = envelope.settings.verify_scope == "workspace"
    keep = envelope.settings.unverified == "keep" if keep_unverified is None \
        else keep_unverified
    before_paths = _python(e.path for e in preview.effects if e.before is not None)
    after_paths = _python(e.path for e in preview.effects if e.after is not None)
    renames = {e.renamed_from: e.path for e in preview.effects if e.renamed_from}

    async def diagnostics(paths: list[str]) -> list[Any]:
        if not paths and not whole:
            return []
        return list(await service.diagnostics(None if whole else [root / p for p in paths]))

    before_files = await diagnostics(before_paths)
    with envelope.transaction(preview) as txn:
        after_files = await diagnostics(after_paths)
        unready = sorted({renames.get(f.path, f.path) for f in before_files if not f.ready}
                         | {f.path for f in after_files if not f.ready})
        skip = set(unready)
        before = [d for f in before_files if renames.get(f.path, f.path) not in skip
                  for d in f.diagnostics]
        after = [d for f in after_files if f.path not in skip for d in f.diagnostics]
        fresh = new_errors(before, after, renames)
        rollback = (fresh and envelope.settings.rollback_on == "new_errors") or \
            (unready and not keep)
        if rollback:
            txn.rollback(envelope.reset_history)
            # Let the server see the restored files, so later answers are right.
            await service.refresh()
            if fresh and envelope.settings.rollback_on == "new_errors":
                return ApplyResult(ROLLED_BACK, preview.id, preview.paths, preview.edit_count,
                                   reason="new_errors",
                                   message=f"{len(fresh)} new error(s) after the apply"
                                   + (f" ({_unready_note(unready)})" if unready else ""),
                                   verified=not unready,
                                   new_diagnostics=tuple(d.to_json() for d in fresh))
            return ApplyResult(ROLLED_BACK, preview.id, preview.paths, preview.edit_count,
                               reason="unverified",
                               message=f"could not verify: {_unready_note(unready)}; rolled "
                               "back (--keep-unverified keeps such an apply, exit 1)")
        record = envelope.commit(txn, preview)
    result = applied(preview, record=record, verified=not unready)
    if unready:
        result = replace(result, reason="unverified", message=f"applied but not verified: "
                         f"{_unready_note(unready)}")
    if fresh:  # policy "never": keep the apply, report what it broke
        result = replace(result, new_diagnostics=tuple(d.to_json() for d in fresh))
    return result


def _unready_note(unready: list[str]) -> str:
    shown = ", ".join(unready[:5]) + (f" and {len(unready) - 5} more" if len(unready) > 5
                                      else "")
    return (f"the server's diagnostics of {len(unready)} file(s) were not ready in time "
            f"({shown}); raise --timeout or start the daemon (lanser daemon start)")


__all__ = ["apply_verified", "new_errors", "refuse_syntax_errors"]
