"""The typer application: registers each command module's commands."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from lanser.cli.common import Boundary

HELP = """\
Verified code facts and process rewards for coding agents, from real language
servers and real test runs.

Locations (LOC) are path:line:col or path:line, 1-based, columns in Unicode code
points, or a selector (see `lanser selector --help`). Paths are relative to the
workspace root. --json prints stable JSON (sorted keys, documented list order).

Exit codes: 0 ok; 1 a check found problems (drift, failed gate); 2 usage or input
error (bad selector, path outside the workspace, missing file); 3 server or
runtime failure (crash, timeout); 4 the target did not resolve to one confident
location (not found, ambiguous: candidates are listed); 130 interrupted.
"""

app = typer.Typer(
    name="lanser",
    cls=Boundary,
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    # --install-completion / --show-completion (bash, zsh, fish, PowerShell): README.
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Command modules; each defines ``register(app)``. Kept as names so that a module
#: that fails to import (a missing extra) cannot break the rest of the CLI.
COMMAND_MODULES = (
    "lanser.cli.servers",
    "lanser.cli.query",
    "lanser.cli.selector",
    "lanser.cli.bundle",
    "lanser.cli.edit",
    "lanser.cli.test",
    "lanser.cli.reward",
    "lanser.cli.episode",
    "lanser.cli.daemon",
    "lanser.cli.demo",
    "lanser.cli.trust",
    "lanser.cli.ci",
    "lanser.cli.train",
    "lanser.cli.score",
    "lanser.cli.tasks",
    "lanser.cli.doctor",
)


def _version(value: bool) -> None:
    if value:
        from lanser import __version__

        typer.echo(f"lanser {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", help="Print lanser's version and exit.", is_eager=True,
        callback=_version)] = False) -> None:
    """Verified code facts and process rewards for coding agents."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)
