"""Query commands: definition and friends, references, hover, symbols, calls, diagnostics.

One command per op of :data:`lanser.queries.ops.COMMANDS`; each turns its options into
a query for :func:`lanser.queries.ask.run`, and the fast path (:mod:`lanser.cli.fast`)
sends the same query to a running daemon.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lanser.cli.common import (
    Invocation,
    JsonOpt,
    RootOpt,
    ServerOpt,
    TimeoutOpt,
    emit_json,
)
from lanser.queries.ops import BY_NAME, COMMANDS

LocArg = Annotated[str, typer.Argument(help="path:line:col, path:line, or a selector.")]
NoDaemonOpt = Annotated[
    bool, typer.Option("--no-daemon", help="Do not use a running daemon; start a server here.")
]


def register(app: typer.Typer) -> None:
    """One command per query op; an op with options of its own has its own function
    (a new op without one fails here, at import, not silently)."""
    own = {f.__name__.replace("_", "-"): f
           for f in (references, hover, symbols, workspace_symbols, calls, diagnostics)}
    for name in COMMANDS:
        if name in own:
            app.command(name)(own[name])
        elif not BY_NAME[name].options and BY_NAME[name].where == "position":
            app.command(name, help=f"Where the symbol at LOC is: {name}.")(
                _location_command(name))
        else:
            raise RuntimeError(f"query op {name!r} has no CLI command")


def _run(inv: Invocation, command: str, no_daemon: bool, **args: Any) -> dict[str, Any]:
    import contextlib

    from lanser.queries.ask import run

    waiting = contextlib.nullcontext()
    if not inv.json:
        from lanser.cli import render

        waiting = render.busy(f"{command}: asking {inv.server_name}")
    with waiting:
        answer = run(inv.workspace, inv.server_spec(), {"op": command, **args},
                     timeout=inv.request_timeout, use_daemon=not no_daemon)
    if inv.json:
        emit_json(answer)
    else:
        from lanser.cli import render

        render.answer(answer)
    return answer


def _location_command(op: str):
    def command(loc: LocArg, root: RootOpt = None, json_out: JsonOpt = False,
                server: ServerOpt = None, timeout: TimeoutOpt = None,
                no_daemon: NoDaemonOpt = False) -> int:
        _run(Invocation(root, json_out, server, timeout), op, no_daemon, loc=loc)
        return 0

    command.__name__ = op.replace("-", "_")
    return command


def references(loc: LocArg, include_declaration: Annotated[bool, typer.Option(
                   "--include-declaration", help="Count the declaration as a reference.")] = False,
               root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
               timeout: TimeoutOpt = None, no_daemon: NoDaemonOpt = False) -> int:
    """Every reference to the symbol at LOC."""
    _run(Invocation(root, json_out, server, timeout), "references", no_daemon, loc=loc,
         include_declaration=include_declaration)
    return 0


def hover(loc: LocArg, root: RootOpt = None, json_out: JsonOpt = False,
          server: ServerOpt = None, timeout: TimeoutOpt = None,
          no_daemon: NoDaemonOpt = False) -> int:
    """Type and documentation of the symbol at LOC."""
    _run(Invocation(root, json_out, server, timeout), "hover", no_daemon, loc=loc)
    return 0


def calls(loc: LocArg,
          incoming: Annotated[bool, typer.Option("--incoming/--outgoing",
                                                 help="Callers (default) or callees.")] = True,
          root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
          timeout: TimeoutOpt = None, no_daemon: NoDaemonOpt = False) -> int:
    """Call hierarchy of the function at LOC."""
    _run(Invocation(root, json_out, server, timeout), "calls", no_daemon, loc=loc,
         incoming=incoming)
    return 0


def symbols(path: Annotated[str, typer.Argument(help="A Python file.")],
            root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
            timeout: TimeoutOpt = None, no_daemon: NoDaemonOpt = False) -> int:
    """Symbols defined in PATH, with qualified names."""
    _run(Invocation(root, json_out, server, timeout), "symbols", no_daemon, path=path)
    return 0


def workspace_symbols(query: Annotated[str, typer.Argument(help="Name or fragment.")],
                      root: RootOpt = None, json_out: JsonOpt = False,
                      server: ServerOpt = None, timeout: TimeoutOpt = None,
                      no_daemon: NoDaemonOpt = False) -> int:
    """Symbols across the workspace matching QUERY."""
    _run(Invocation(root, json_out, server, timeout), "workspace-symbols", no_daemon,
         query=query)
    return 0


def diagnostics(paths: Annotated[list[str] | None, typer.Argument(
                    help="Files to check (default: every Python file not ignored by git).")] = None,
                fail_on: Annotated[str, typer.Option(
                    "--fail-on", help="Exit 1 when a diagnostic of this severity or worse "
                    "is found: error, warning, information, hint, or never.")] = "never",
                root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
                timeout: TimeoutOpt = None, no_daemon: NoDaemonOpt = False) -> int:
    """Fresh diagnostics: the files exactly as they are on disk now."""
    from lanser.severities import check_fail_on, diagnostics_exit_code

    check_fail_on(fail_on)
    answer = _run(Invocation(root, json_out, server, timeout), "diagnostics", no_daemon,
                  paths=paths or [])
    return diagnostics_exit_code(answer["summary"], fail_on)
