"""Query commands: definition and friends, references, hover, symbols, calls, diagnostics."""

from __future__ import annotations

from typing import Annotated

import typer

from lanser.cli.common import (
    Invocation,
    JsonOpt,
    RootOpt,
    ServerOpt,
    TimeoutOpt,
    emit_json,
    handle_errors,
)
from lanser.errors import ExitCode

LocArg = Annotated[str, typer.Argument(help="path:line:col, path:line, or a selector.")]
NoDaemonOpt = Annotated[
    bool, typer.Option("--no-daemon", help="Do not use a running daemon; start a server here.")
]


def register(app: typer.Typer) -> None:
    for op in ("definition", "declaration", "type-definition", "implementation"):
        app.command(op, help=f"Where the symbol at LOC is: {op}.")(_location_command(op))
    app.command("references")(references)
    app.command("hover")(hover)
    app.command("symbols")(symbols)
    app.command("workspace-symbols")(workspace_symbols)
    app.command("calls")(calls)
    app.command("diagnostics")(diagnostics)


def _show(inv: Invocation, answer: dict) -> int:
    if inv.json:
        emit_json(answer)
    else:
        from lanser.cli import render

        render.answer(answer)
    return 0


def _position(inv: Invocation, op: str, loc: str, no_daemon: bool, **extra: object) -> int:
    from lanser.query import position_query

    answer = position_query(inv.workspace, inv.server_spec(), op, loc,
                            timeout=inv.request_timeout, use_daemon=not no_daemon, **extra)
    return _show(inv, answer)


def _location_command(op: str):
    @handle_errors
    def command(loc: LocArg, root: RootOpt = None, json_out: JsonOpt = False,
                server: ServerOpt = None, timeout: TimeoutOpt = None,
                no_daemon: NoDaemonOpt = False) -> int:
        return _position(Invocation(root, json_out, server, timeout), op, loc, no_daemon)

    command.__name__ = op.replace("-", "_")
    return command


@handle_errors
def references(loc: LocArg, include_declaration: Annotated[bool, typer.Option(
                   "--include-declaration", help="Count the declaration as a reference.")] = False,
               root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
               timeout: TimeoutOpt = None, no_daemon: NoDaemonOpt = False) -> int:
    """Every reference to the symbol at LOC."""
    return _position(Invocation(root, json_out, server, timeout), "references", loc, no_daemon,
                     include_declaration=include_declaration)


@handle_errors
def hover(loc: LocArg, root: RootOpt = None, json_out: JsonOpt = False,
          server: ServerOpt = None, timeout: TimeoutOpt = None,
          no_daemon: NoDaemonOpt = False) -> int:
    """Type and documentation of the symbol at LOC."""
    return _position(Invocation(root, json_out, server, timeout), "hover", loc, no_daemon)


@handle_errors
def calls(loc: LocArg,
          incoming: Annotated[bool, typer.Option("--incoming/--outgoing",
                                                 help="Callers (default) or callees.")] = True,
          root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
          timeout: TimeoutOpt = None, no_daemon: NoDaemonOpt = False) -> int:
    """Call hierarchy of the function at LOC."""
    return _position(Invocation(root, json_out, server, timeout), "calls", loc, no_daemon,
                     incoming=incoming)


@handle_errors
def symbols(path: Annotated[str, typer.Argument(help="A Python file.")],
            root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
            timeout: TimeoutOpt = None, no_daemon: NoDaemonOpt = False) -> int:
    """Symbols defined in PATH, with qualified names."""
    from lanser.query import file_query

    inv = Invocation(root, json_out, server, timeout)
    path = inv.workspace.relative(inv.workspace.resolve_file(path))
    answer = file_query(inv.workspace, inv.server_spec(), "symbols", path=path,
                        timeout=inv.request_timeout, use_daemon=not no_daemon)
    return _show(inv, answer)


@handle_errors
def workspace_symbols(query: Annotated[str, typer.Argument(help="Name or fragment.")],
                      root: RootOpt = None, json_out: JsonOpt = False,
                      server: ServerOpt = None, timeout: TimeoutOpt = None,
                      no_daemon: NoDaemonOpt = False) -> int:
    """Symbols across the workspace matching QUERY."""
    from lanser.query import file_query

    inv = Invocation(root, json_out, server, timeout)
    answer = file_query(inv.workspace, inv.server_spec(), "workspace-symbols", query=query,
                        timeout=inv.request_timeout, use_daemon=not no_daemon)
    return _show(inv, answer)


@handle_errors
def diagnostics(paths: Annotated[list[str] | None, typer.Argument(
                    help="Files to check (default: every Python file not ignored by git).")] = None,
                fail_on: Annotated[str, typer.Option(
                    "--fail-on", help="Exit 1 when a diagnostic of this severity or worse "
                    "is found: error, warning, information, hint, or never.")] = "never",
                root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
                timeout: TimeoutOpt = None, no_daemon: NoDaemonOpt = False) -> int:
    """Fresh diagnostics: the files exactly as they are on disk now."""
    from lanser.errors import UsageError
    from lanser.query import diagnostics_summary, file_query

    order = ["error", "warning", "information", "hint"]
    if fail_on not in (*order, "never"):
        raise UsageError(f"--fail-on {fail_on}: expected one of {', '.join(order)}, never")
    inv = Invocation(root, json_out, server, timeout)
    rel = [inv.workspace.relative(inv.workspace.resolve_file(p)) for p in paths or []]
    answer = file_query(inv.workspace, inv.server_spec(), "diagnostics", paths=rel,
                        timeout=inv.request_timeout, use_daemon=not no_daemon)
    answer["summary"] = summary = diagnostics_summary(answer["files"])
    _show(inv, answer)
    if summary["not_ready"]:
        return int(ExitCode.RUNTIME)
    if fail_on != "never" and any(summary[s] for s in order[: order.index(fail_on) + 1]):
        return int(ExitCode.CHECK_FAILED)
    return 0
