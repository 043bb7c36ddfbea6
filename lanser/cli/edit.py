"""Edit commands: rename, actions, apply (preview by default), undo, recover.

Thin: parse, call :mod:`lanser.edits.flows`, render. A preview prints the unified
diff and a summary and writes nothing; ``--apply`` (``apply`` without ``--check``)
writes through the safety envelope. Exit codes: 0 previewed or applied, 1 rolled
back by verification, 2 refused (jail, deny rule, stale, dirty, binary).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lanser.cli.common import (
    Invocation,
    JsonOpt,
    RootOpt,
    ServerOpt,
    TimeoutOpt,
    emit_json,
    run_async,
)
from lanser.errors import ExitCode

LocArg = Annotated[str, typer.Argument(help="path:line:col, path:line, or a selector.")]
VerifyOpt = Annotated[bool, typer.Option(
    "--verify", help="Compare fresh diagnostics before and after; roll back per "
    "[edits] rollback_on (default: on new errors).")]
KeepOpt = Annotated[bool | None, typer.Option(
    "--keep-unverified/--rollback-unverified", show_default=False,
    help="When --verify cannot finish (the server did not answer in time): keep the "
    "apply and exit 1, or roll it back (default, or [edits] unverified).")]
DirtyOpt = Annotated[bool, typer.Option(
    "--allow-dirty", help="Touch files with uncommitted changes.")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("rename")(rename)
    app.command("actions")(actions)
    app.command("apply")(apply)
    app.command("undo")(undo)
    app.command("recover")(recover)


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _busy(inv: Invocation, what: str) -> Any:
    """A spinner on stderr at a terminal (a verified apply takes a while)."""
    import contextlib

    if inv.json:
        return contextlib.nullcontext()
    from lanser.cli.render import busy

    return busy(what)


def _render_preview(preview: Any, console: Any) -> None:
    from rich.syntax import Syntax

    if preview.diff:
        console.print(Syntax(preview.diff, "diff", theme="ansi_dark", background_color="default"))
    summary = preview.summary()
    symbols = f"; symbols: {', '.join(summary['symbols'])}" if summary["symbols"] else ""
    console.print(f"[bold]{summary['files']} file(s), {summary['edits']} edit(s)[/]{symbols}")


def _render_result(result: Any, console: Any) -> None:
    if result is None:
        console.print("[dim]preview only: nothing written (use --apply to write)[/]")
    elif result.status == "applied" and result.reason == "unverified":
        console.print(f"[yellow]applied, NOT verified[/]: {len(result.files)} file(s)")
        console.print(result.message, markup=False)
    elif result.status == "applied":
        note = " and verified" if result.verified else ""
        console.print(f"[green]applied{note}[/]: {len(result.files)} file(s)")
    else:
        console.print(f"[bold red]{result.status}[/] ({result.reason}): {result.message}")
        for diag in result.new_diagnostics:
            console.print(f"  {diag['path']}:{diag['line']}:{diag['col']} {diag['message']}",
                          markup=False)


def _show(inv: Invocation, outcome: Any) -> int:
    if inv.json:
        emit_json(outcome.to_json())
    else:
        console = _console()
        _render_preview(outcome.preview, console)
        _render_result(outcome.result, console)
    return _exit(outcome.result)


def _exit(result: Any) -> int:
    """1 when the apply was rolled back, or kept without the verification asked for."""
    if result is not None and (result.status == "rolled_back" or result.reason == "unverified"):
        return int(ExitCode.CHECK_FAILED)
    return 0


def rename(loc: LocArg, new_name: Annotated[str, typer.Argument(help="The new name.")],
           do_apply: Annotated[bool, typer.Option("--apply", help="Write the edit.")] = False,
           verify: VerifyOpt = False, keep_unverified: KeepOpt = None,
           allow_dirty: DirtyOpt = False,
           root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
           timeout: TimeoutOpt = None) -> int:
    """Rename the symbol at LOC everywhere (server-checked); preview by default."""
    from lanser.edits import flows
    from lanser.selectors import resolve_target

    inv = Invocation(root, json_out, server, timeout)
    target = resolve_target(inv.workspace, loc,
                            threshold=inv.workspace.config.confidence_threshold)
    with _busy(inv, "renaming" + (", verifying" if verify else "")):
        outcome = run_async(flows.rename(
            inv.workspace, inv.server_spec(), target.path, target.position, new_name,
            apply=do_apply, verify=verify, allow_dirty=allow_dirty,
            timeout=inv.request_timeout, keep_unverified=keep_unverified))
    return _show(inv, outcome)


def actions(loc: LocArg,
            apply_id: Annotated[str | None, typer.Option(
                "--apply", help="Apply the action with this id (or exact title).",
                show_default=False)] = None,
            verify: VerifyOpt = False, keep_unverified: KeepOpt = None,
            allow_dirty: DirtyOpt = False,
            root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
            timeout: TimeoutOpt = None) -> int:
    """Code actions at LOC, each previewed; --apply ID writes one."""
    from lanser.edits import flows
    from lanser.positions import Span
    from lanser.selectors import resolve_target

    inv = Invocation(root, json_out, server, timeout)
    target = resolve_target(inv.workspace, loc,
                            threshold=inv.workspace.config.confidence_threshold)
    outcome = run_async(flows.actions(
        inv.workspace, inv.server_spec(), target.path, Span(target.position, target.position),
        choose=apply_id, apply=apply_id is not None, verify=verify, allow_dirty=allow_dirty,
        timeout=inv.request_timeout, keep_unverified=keep_unverified))
    if inv.json:
        emit_json(outcome.to_json())
    elif outcome.chosen is None:
        console = _console()
        if not outcome.actions:
            console.print("[dim]no code actions here[/]")
        for action in outcome.actions:
            console.print(f"[bold]{action.id}[/] {action.title}"
                          + (f" [dim]({action.kind})[/]" if action.kind else ""))
            if action.preview is not None:
                _render_preview(action.preview, console)
            if action.refusal is not None:
                from rich.markup import escape

                console.print(f"  [red]refused[/]: {escape(action.refusal['message'])}")
    else:
        return _show(inv, outcome.chosen)
    return _exit(outcome.chosen.result if outcome.chosen is not None else None)


def apply(edit: Annotated[str, typer.Argument(
              help="A WorkspaceEdit JSON, a lanser preview JSON, or a unified diff; - reads "
              "stdin.")],
          check: Annotated[bool, typer.Option(
              "--check", help="Preview only: print the diff, write nothing.")] = False,
          verify: VerifyOpt = False, keep_unverified: KeepOpt = None,
          allow_dirty: DirtyOpt = False,
          root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
          timeout: TimeoutOpt = None) -> int:
    """Apply an edit through the safety envelope (jail, stale check, journal, undo)."""
    from lanser.edits import flows

    inv = Invocation(root, json_out, server, timeout)
    if edit == "-":
        text = sys.stdin.read()
    else:
        from lanser.jsonio import read_text_bounded

        # universal newlines, as reading in text mode always did here
        text = read_text_bounded(edit, what="edit").replace("\r\n", "\n").replace("\r", "\n")
    with _busy(inv, "applying" + (", verifying" if verify and not check else "")):
        outcome = run_async(flows.apply_file(
            inv.workspace, text, origin=f"apply {Path(edit).name}", apply=not check,
            verify=verify, allow_dirty=allow_dirty,
            spec=inv.server_spec() if verify and not check else None,
            timeout=inv.request_timeout, keep_unverified=keep_unverified))
    return _show(inv, outcome)


def undo(root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
         timeout: TimeoutOpt = None) -> int:
    """Roll back the last apply exactly (recorded on refs/lanser/applies)."""
    from lanser.edits import Envelope

    inv = Invocation(root, json_out, server, timeout)
    result = Envelope(inv.workspace).undo()
    if inv.json:
        emit_json(result.to_json())
    else:
        _console().print(f"undone: {', '.join(result.files)} "
                         f"({result.remaining} earlier apply(s) left to undo)", markup=False)
    return 0


def recover(root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
            timeout: TimeoutOpt = None) -> int:
    """Finish a crashed apply: restore the exact bytes every file had before it."""
    from lanser.edits.envelope import recover as recover_workspace

    inv = Invocation(root, json_out, server, timeout, auto_recover=False)
    result = recover_workspace(inv.workspace)
    if inv.json:
        emit_json(result.to_json())
    else:
        console = _console()
        if not result.happened:
            console.print("nothing to recover")
        else:
            console.print(f"recovered transaction {result.transaction}: restored "
                          f"{len(result.restored)} file(s)")
            for path in result.conflicts:
                console.print(f"[yellow]conflict[/]: {path} changed after the crash; left as "
                              "is, its old bytes are under .lanser/conflicts/")
    return 1 if result.conflicts else 0
