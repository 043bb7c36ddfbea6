"""What every command shares: the common options, the one error boundary, JSON output.

Commands stay thin: they take options, build an :class:`Invocation`, call one
library function and render, returning their exit code. :class:`Boundary` (the
application's group class) is the one place errors become exit codes and messages:
a :class:`~lanser.errors.LanserError` its code and message, Ctrl-C 130, anything else
an internal error with a crash log, never a traceback. It is told whether the output
is JSON by the command line itself: ``--json`` (:data:`JsonOpt`) and an
:class:`Invocation` made with ``json=True`` (``episode serve`` speaks JSON lines)
say so through :func:`output_json`. Heavy modules (pygls, tree-sitter, git) are
imported inside commands, never here, so ``lanser --help`` stays fast.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lanser.cli.output import dumps, emit_json
from lanser.errors import ExitCode, LanserError

__all__ = ["Boundary", "Invocation", "JsonOpt", "RootOpt", "ServerOpt", "TimeoutOpt", "dumps",
           "emit_json", "output_json", "recover_crashed_apply", "run_async"]

#: Whether this command's output is JSON, so its errors are JSON too.
_JSON_OUTPUT: contextvars.ContextVar[bool] = contextvars.ContextVar("json_output",
                                                                    default=False)


def output_json(value: bool = True) -> bool:
    """Tell the error boundary whether this command's output is JSON."""
    if value:
        _JSON_OUTPUT.set(True)
    return value


def _json_flag(value: bool) -> bool:
    return output_json(bool(value))


RootOpt = Annotated[
    Path | None,
    typer.Option("--root", help="Workspace root (default: the git top-level, else the cwd).",
                 show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print stable JSON on stdout.",
                                        callback=_json_flag)]
ServerOpt = Annotated[
    str | None,
    typer.Option("--server", help="Language server (default: basedpyright, or the config's).",
                 show_default=False),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Seconds a server request may take.", show_default=False),
]


@dataclass
class Invocation:
    """The parsed common options of one command.

    ``auto_recover`` (off only for ``lanser recover``, which reports what it does):
    opening the workspace first finishes an apply that crashed midway, so no
    command reads or serves a half-applied tree.
    """

    root: Path | None
    json: bool
    server: str | None
    timeout: float | None
    auto_recover: bool = True

    def __post_init__(self) -> None:
        output_json(self.json)
        if self.timeout is not None and not self.timeout > 0:  # 0, negatives, nan
            from lanser.errors import UsageError

            raise UsageError(f"--timeout {self.timeout:g}: give a positive number of seconds",
                             code="bad_timeout")

    @functools.cached_property
    def workspace(self) -> Any:
        from lanser.workspace import Workspace

        workspace = Workspace.open(self.root)
        if self.auto_recover:
            recover_crashed_apply(workspace)
        return workspace

    @property
    def server_name(self) -> str:
        return self.server or self.workspace.config.server

    @property
    def request_timeout(self) -> float:
        return self.timeout if self.timeout is not None else self.workspace.config.timeout

    def server_spec(self) -> Any:
        from lanser.lsp.registry import get_server

        return get_server(self.server_name, self.workspace.config.servers)


def recover_crashed_apply(workspace: Any) -> None:
    """Restore the files of a crashed apply; one stat (and no import) when none is.

    Says so on stderr, never stdout, so ``--json`` output stays one document.
    """
    from lanser.edits import in_flight

    if not in_flight(workspace.root):
        return
    from lanser.edits.envelope import recover

    result = recover(workspace)
    if not result.happened:
        return  # another process finished it while we waited for the lock
    note = (f"lanser: recovered an interrupted apply (transaction {result.transaction}): "
            f"restored {len(result.restored)} file(s)")
    if result.conflicts:
        note += (f"; {', '.join(result.conflicts)} changed after the crash and were left "
                 "as is (old bytes under .lanser/conflicts/)")
    print(note, file=sys.stderr)


class Boundary(TyperGroup):
    """The application's group: runs the command and turns what it ends with into an
    exit code (module docstring). A command's return value is its exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        _JSON_OUTPUT.set(False)
        try:
            code = super().invoke(ctx)
        except LanserError as exc:
            _report(exc.to_json(), exc.message, _JSON_OUTPUT.get())
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors: typer's own
            raise
        except Exception as exc:  # a bug of ours: say where the details are
            log = _write_crash_log()
            message = f"internal error: {type(exc).__name__}: {exc} (details in {log})"
            _report({"error": {"code": "internal", "message": message}}, message,
                    _JSON_OUTPUT.get())
            raise typer.Exit(int(ExitCode.RUNTIME)) from None
        raise typer.Exit(int(code or 0))


def _report(payload: dict[str, Any], message: str, json_mode: bool) -> None:
    if json_mode:
        emit_json(payload)
    else:
        from rich.console import Console
        from rich.markup import escape

        # the message is data: "[servers.NAME]" must print as written (issue 15, 11)
        console = Console(stderr=True, highlight=False, soft_wrap=True)
        console.print(f"[bold red]error[/] ({payload['error']['code']}): {escape(message)}",
                      markup=True)
        from lanser.cli.plain import error

        for text in error(payload)[1:]:  # ambiguous: the candidates to choose from
            console.print(text, markup=False)


def _write_crash_log() -> str:
    fd, path = tempfile.mkstemp(prefix="lanser-crash-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write(traceback.format_exc())
    return path


def run_async(coro: Any) -> Any:
    """The one ``asyncio.run`` of a command, with pygls's own logging silenced."""
    import asyncio

    from lanser.lsp.logs import silence_pygls

    silence_pygls()
    return asyncio.run(coro)
