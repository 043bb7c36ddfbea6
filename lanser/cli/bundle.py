"""``lanser bundle LOC --op ...``, ``lanser bundle verify FILE``, ``lanser bundle diff A B``."""

from __future__ import annotations

from pathlib import Path
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
from lanser.errors import ExitCode, UsageError

HELP = """Analysis bundles: what a server said, normalized and hashed.

  lanser bundle LOC --op definition,hover,diagnostics [-o FILE]
      write one bundle (stdout by default); LOC is relative to the workspace root.
      Ops: definition, declaration, type-definition, implementation, references,
      references-with-declaration, hover, symbols, diagnostics, calls (incoming),
      outgoing-calls, workspace-symbols (needs --query; LOC may then be left out).
      A FILE inside the workspace is left out of the snapshot the bundle records.
  lanser bundle verify FILE
      recompute on the workspace now (test-run bundles are rerun): exit 0
      identical, 1 drift (with a diff of facts, or why the target no longer
      resolves), 2 malformed or tampered bundle.
  lanser bundle diff A B
      what changed between two bundles, fact by fact (exit 1 when they differ).
"""


def register(app: typer.Typer) -> None:
    app.command("bundle", help=HELP)(bundle)


def bundle(args: Annotated[list[str] | None, typer.Argument(
               help="LOC | verify FILE | diff A B", show_default=False)] = None,
           op: Annotated[str, typer.Option("--op", help="Comma-separated operations.")] = "",
           query: Annotated[str | None, typer.Option(
               "--query", help="The query of workspace-symbols.")] = None,
           output: Annotated[Path | None, typer.Option("-o", "--output",
                                                       help="Write the bundle here.")] = None,
           no_store: Annotated[bool, typer.Option(
               "--no-store", help="Always ask the server; do not reuse a stored bundle.")] = False,
           root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
           timeout: TimeoutOpt = None,
           no_daemon: Annotated[bool, typer.Option(
               "--no-daemon", help="Ask a fresh in-process server, never the workspace daemon."
           )] = False) -> int:
    inv = Invocation(root, json_out, server, timeout)
    args = args or []
    if args[:1] == ["verify"]:
        if len(args) != 2:
            raise UsageError("usage: lanser bundle verify FILE")
        return _verify(inv, Path(args[1]), no_daemon)
    if args[:1] == ["diff"]:
        if len(args) != 3:
            raise UsageError("usage: lanser bundle diff A B")
        return _diff(inv, Path(args[1]), Path(args[2]))
    if len(args) > 1:
        raise UsageError("usage: lanser bundle LOC --op OP[,OP...] [-o FILE]")
    from lanser.bundles import dump_bundle
    from lanser.queries.bundle import parse_ops, query_bundle

    made, _ = query_bundle(inv.workspace, inv.server_spec(), args[0] if args else None,
                           parse_ops(op or "definition"), query=query,
                           timeout=inv.request_timeout, use_daemon=not no_daemon,
                           use_store=not no_store, exclude=[output] if output else [])
    text = dump_bundle(made)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        if json_out:
            emit_json({"hash": made["hash"], "path": str(output)})
        else:  # say what was written (issue 15, defect 11)
            typer.echo(f"wrote {output}: {made['hash']}")
    else:
        typer.echo(text, nl=False)
    return 0


def _verify(inv: Invocation, path: Path, no_daemon: bool) -> int:
    from lanser.bundles import load_bundle
    from lanser.queries.bundle import verify_bundle

    recorded = load_bundle(path)
    fresh, changes = verify_bundle(inv.workspace, recorded, timeout=inv.request_timeout,
                                   use_daemon=not no_daemon, exclude=[path])
    identical = not changes
    if inv.json:
        emit_json({"identical": identical, "recorded": recorded["hash"],
                   "recomputed": fresh["hash"] if fresh else None, "changes": changes})
    else:
        _print_changes(changes, "identical: the bundle reproduces on this workspace")
    return 0 if identical else int(ExitCode.CHECK_FAILED)


def _diff(inv: Invocation, a: Path, b: Path) -> int:
    from lanser.bundles import load_bundle
    from lanser.bundles.diff import diff_bundles

    changes = diff_bundles(load_bundle(a), load_bundle(b))
    if inv.json:
        emit_json({"identical": not changes, "changes": changes})
    else:
        _print_changes(changes, "identical")
    return 0 if not changes else int(ExitCode.CHECK_FAILED)


def _print_changes(changes: list[dict], same: str) -> None:
    """One line per change; paths and values are printed literally, never as markup
    (``files[pkg/use.py]`` and ``"list[int]"`` would otherwise be eaten as tags)."""
    from rich.markup import escape

    from lanser.cli.output import dumps
    from lanser.cli.render import console

    if not changes:
        console.print(same)
        return
    for change in changes:
        kind, where = change["kind"], escape(change["where"])
        if kind == "unresolvable":
            console.print(f"[red]! {where}[/]: {escape(change['message'])}", markup=True,
                          highlight=False)
        elif kind == "changed":
            console.print(f"[yellow]~ {where}[/]: {escape(dumps(change['before']))} -> "
                          f"{escape(dumps(change['after']))}", markup=True, highlight=False)
        else:
            sign, style = ("+", "green") if kind == "added" else ("-", "red")
            console.print(f"[{style}]{sign} {where}[/]: {escape(dumps(change['item']))}",
                          markup=True, highlight=False)
