"""``lanser doctor``: what lanser needs on this machine, and how to fix each miss
(library: lanser/doctor.py). Exit 0 when everything required is there (warnings
allowed), 1 when something required is missing."""

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
)
from lanser.errors import ExitCode

STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "info": "dim"}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(quick: Annotated[bool, typer.Option(
               "--quick", help="Do not start the language servers (only look them up).")
           ] = False,
           root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
           timeout: TimeoutOpt = None) -> int:
    """Check Python, git, the language servers, the sandbox, the daemon and extras.

    --server NAME checks that server only. Exit status: 0 everything required is
    there, 1 something required is missing (each miss says how to fix it).
    """
    from lanser.doctor import diagnose

    inv = Invocation(root, json_out, server, timeout)
    report = diagnose(inv.workspace, servers=[server] if server else None, start=not quick,
                      timeout=timeout or 30.0)
    if json_out:
        emit_json(report.to_json())
    else:
        from rich.markup import escape

        from lanser.cli.render import console

        for check in report.checks:
            style = STYLE.get(check.status, "")
            console.print(f"[{style}]{check.status:>4}[/] {escape(check.name)}: "
                          f"{escape(check.detail)}", highlight=False)
            if check.fix and check.status != "ok":
                console.print(f"       fix: {check.fix}", highlight=False, style="dim",
                              markup=False)
        console.print("ready" if report.ok else "[bold red]something required is missing[/]")
    return 0 if report.ok else int(ExitCode.CHECK_FAILED)
