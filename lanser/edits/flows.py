"""The edit commands as library calls: rename, code actions, apply a file; undo, recover.

Each returns an :class:`Outcome`: the preview (always) and the apply result (when
asked to apply). The CLI renders them; episodes and the reward read the result
record. A language server is started only when one is needed (rename, actions,
``verify``), tracking the disk so the diagnostics after an apply are fresh.
"""

from __future__ import annotations

import contextlib
import keyword
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanser.edits.envelope import Envelope
from lanser.edits.model import ApplyResult, EditRefused, Preview
from lanser.edits.sources import parse_edit, read_text_or_none
from lanser.errors import NotFound, UsageError
from lanser.positions import Position, Span
from lanser.workspace import Workspace

if TYPE_CHECKING:  # the server stack (pygls) is imported only when a server is started
    from lanser.lsp.facts import CodeAction
    from lanser.lsp.registry import ServerSpec
    from lanser.lsp.service import LanguageService


@dataclass(frozen=True)
class Outcome:
    """A preview, and when applied the result record and that record as a bundle."""

    preview: Preview
    result: ApplyResult | None = None
    bundle: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"preview": self.preview.to_json(),
                "result": self.result.to_json() if self.result else None,
                "record": self.result.record if self.result else None,
                "bundle": self.bundle}


@dataclass(frozen=True)
class Action:
    """One code action offered at a location, with the preview of its edit."""

    id: int
    title: str
    kind: str | None
    preview: Preview | None
    refusal: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "kind": self.kind,
                "preview": self.preview.to_json() if self.preview else None,
                "refused": self.refusal}


@dataclass(frozen=True)
class ActionsOutcome:
    actions: tuple[Action, ...]
    chosen: Outcome | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"actions": [a.to_json() for a in self.actions],
                "chosen": self.chosen.to_json() if self.chosen else None}


async def _finish(envelope: Envelope, preview: Preview, service: LanguageService | None, *,
                  apply: bool, verify: bool, keep_unverified: bool | None = None) -> Outcome:
    if not apply:
        return Outcome(preview)
    if verify:
        from lanser.edits.verify import apply_verified

        if service is None:  # a verify that cannot happen is not a pass (issue 15, 4)
            raise UsageError("--verify needs a language server", code="usage")

        result = await apply_verified(envelope, preview, service,
                                      keep_unverified=keep_unverified)
    else:
        result = envelope.apply(preview)
    return Outcome(preview, result, result.to_bundle(envelope.workspace, origin=preview.origin))


@contextlib.asynccontextmanager
async def _service(workspace: Workspace, spec: ServerSpec | None, timeout: float,
                   given: LanguageService | None = None) -> AsyncIterator[LanguageService]:
    """``given`` (a started service, e.g. a warm one an episode holds), else a fresh one."""
    if given is not None:
        yield given
        return
    if spec is None:
        raise UsageError("this edit needs a language server: give --server", code="usage")
    from lanser.lsp.service import LanguageService

    async with LanguageService(workspace, spec, timeout=timeout, track_disk=True) as service:
        yield service


def check_verify(apply: bool, verify: bool) -> None:
    """``--verify`` means verify *an apply*: on a preview it would silently do nothing."""
    if verify and not apply:
        raise UsageError("--verify checks an apply: add --apply (a preview writes nothing, "
                         "so there is nothing to verify)", code="usage")


def check_name(path: Path, new_name: str) -> None:
    if path.suffix in (".py", ".pyi") and (not new_name.isidentifier()
                                           or keyword.iskeyword(new_name)):
        raise UsageError(f"{new_name!r} is not a valid Python identifier", code="bad_name")


async def rename(workspace: Workspace, spec: ServerSpec, path: Path, pos: Position, new_name: str,
                 *, apply: bool = False, verify: bool = False, allow_dirty: bool = False,
                 timeout: float = 30.0, service: LanguageService | None = None,
                 keep_unverified: bool | None = None) -> Outcome:
    """Rename the symbol at ``pos`` through the server (prepareRename first)."""
    check_verify(apply, verify)
    check_name(path, new_name)
    envelope = Envelope(workspace, allow_dirty=allow_dirty)
    envelope.recover_pending()
    async with _service(workspace, spec, timeout, service) as service:
        source = workspace.read(path)
        old = _word_at(source.line_text(pos.line), pos.col)
        changes = await service.rename(path, pos, new_name)
        preview = envelope.preview(changes, origin=f"rename {workspace.relative(path)}:{pos} "
                                   f"{new_name}", symbols=[f"{old} -> {new_name}"] if old else [])
        return await _finish(envelope, preview, service, apply=apply, verify=verify,
                             keep_unverified=keep_unverified)


def _word_at(line: str, col: int) -> str:
    index = col - 1
    start = index
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
        start -= 1
    end = index
    while end < len(line) and (line[end].isalnum() or line[end] == "_"):
        end += 1
    return line[start:end]


async def actions(workspace: Workspace, spec: ServerSpec, path: Path, span: Span, *,
                  choose: str | None = None, apply: bool = False, verify: bool = False,
                  allow_dirty: bool = False, timeout: float = 30.0,
                  service: LanguageService | None = None,
                  keep_unverified: bool | None = None) -> ActionsOutcome:
    """Code actions at ``span``, each previewed; ``choose`` (id or title) picks one.

    An action that also carries a server command is previewed but refused: lanser
    does not run server commands, and its edit alone is half the action.
    """
    check_verify(apply, verify)
    envelope = Envelope(workspace, allow_dirty=allow_dirty)
    envelope.recover_pending()
    async with _service(workspace, spec, timeout, service) as service:
        offered = await service.code_actions(path, span)
        found = []
        for index, action in enumerate(offered, start=1):
            try:
                preview = envelope.preview(action.changes, origin=f"action {action.title}")
                refusal = None
                if action.command:
                    refusal = _with_command(action).to_json()["error"]
                found.append(Action(index, action.title, action.kind, preview, refusal))
            except UsageError as exc:
                found.append(Action(index, action.title, action.kind, None,
                                    exc.to_json()["error"]))
        if choose is None:
            return ActionsOutcome(tuple(found))
        picked = [a for a in found if str(a.id) == choose or a.title == choose]
        if not picked:
            titles = "; ".join(f"{a.id}: {a.title}" for a in found) or "none offered"
            raise NotFound(f"no code action {choose!r} here (offered: {titles})",
                           code="not_found")
        action = picked[0]
        if action.preview is None:
            # Re-plan to raise the refusal with its own code and exit status.
            envelope.preview(offered[action.id - 1].changes, origin=action.title)
            raise UsageError(f"code action {action.title!r} cannot be applied",
                             code="refused")
        if action.refusal is not None:
            raise _with_command(offered[action.id - 1])
        chosen = await _finish(envelope, action.preview, service, apply=apply, verify=verify,
                               keep_unverified=keep_unverified)
        return ActionsOutcome(tuple(found), chosen)


def _with_command(action: CodeAction) -> EditRefused:
    return EditRefused(f"code action {action.title!r} also runs the server command "
                       f"{action.command!r} after its edit; lanser does not execute server "
                       "commands, and applying the edit alone would be half the action",
                       code="action_command")


async def apply_file(workspace: Workspace, text: str, *, origin: str, apply: bool = True,
                     verify: bool = False, allow_dirty: bool = False,
                     spec: ServerSpec | None = None,
                     timeout: float = 30.0, service: LanguageService | None = None,
                     keep_unverified: bool | None = None) -> Outcome:
    """Preview (and apply) an edit file: WorkspaceEdit JSON, lanser preview, or a diff."""
    check_verify(apply, verify)
    envelope = Envelope(workspace, allow_dirty=allow_dirty)
    envelope.recover_pending()

    def read(rel: str) -> Any:
        return read_text_or_none(envelope.jail.check(rel).path)

    edit = parse_edit(text, workspace.root, read)
    preview = envelope.preview(edit.changes, origin=origin, base=edit.base)
    if not (apply and verify):
        return await _finish(envelope, preview, None, apply=apply, verify=False)
    if spec is None and service is None:
        raise UsageError("--verify needs a language server", code="usage")
    async with _service(workspace, spec, timeout, service) as service:
        return await _finish(envelope, preview, service, apply=True, verify=True,
                             keep_unverified=keep_unverified)
