"""``lanser selector parse|resolve|capture|relocate``: the Selector DSL (selectors/SPEC.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lanser.cli.common import Invocation, JsonOpt, RootOpt, emit_json

HELP = """\
Address code robustly, and find it again after it changed (selectors/SPEC.md).

Forms: path:line[:col]; path::Class.method or pkg.mod:func (symbolic, with
[kind=...,index=N,role=...]); path//class_definition[name=C]/return_statement[0]
(AST path); path@"snippet"[before=...,after=...,n=N] (anchor); any of those
composed (path::f//...@"..."); START..END (range); and the Lanser-CLI paper forms
path@L42:C7, path@R(42,7->44,1), py://pkg.mod#C.m:body, ast://[module=m]/[class=C],
anchor://path#"snippet"?ctx=24.
"""

SelArg = Annotated[str, typer.Argument(help="A selector (see `lanser selector --help`).")]
ThresholdOpt = Annotated[
    float | None,
    typer.Option("--threshold", help="Minimum confidence (default: the config's, 0.8).",
                 show_default=False, min=0.0, max=1.0),
]


def register(app: typer.Typer) -> None:
    """Add the ``selector`` command group to ``app``."""
    group = typer.Typer(name="selector", help=HELP, no_args_is_help=True,
                        rich_markup_mode=None)
    group.command("parse")(parse)
    group.command("resolve")(resolve)
    group.command("capture")(capture)
    group.command("relocate")(relocate)
    app.add_typer(group)


def parse(selector: SelArg, root: RootOpt = None, json_out: JsonOpt = False) -> int:
    """Parse SELECTOR and print its parsed form and canonical spelling (no files read)."""
    from lanser.selectors.api import parse as parse_text

    answer = parse_text(selector)
    if json_out:
        emit_json(answer)
    else:
        import json

        from rich.markup import escape

        _console().print(f"[bold]{escape(answer['canonical'])}[/]  "
                         f"({answer['parsed']['kind']})")
        _console().print(json.dumps(answer["parsed"], indent=2, ensure_ascii=False),
                         markup=False, highlight=False)
    return 0


def resolve(selector: SelArg,
            rev: Annotated[str | None, typer.Option(
                "--rev", help="Resolve in this git revision instead of the working tree.",
                show_default=False)] = None,
            threshold: ThresholdOpt = None, root: RootOpt = None,
            json_out: JsonOpt = False) -> int:
    """Every candidate location of SELECTOR, with confidence and method (exit 4 if none
    is confident)."""
    from lanser.selectors.api import require_confident, resolve_all

    inv = Invocation(root, json_out, None, None)
    res = resolve_all(inv.workspace, selector, rev=rev, threshold=threshold)
    if json_out:
        if res.confident:
            emit_json(res.to_json())
    else:
        _candidates(f"{selector}  ({res.kind})", [c.to_json() for c in res.candidates])
    require_confident(res)
    return 0


def capture(loc: Annotated[str, typer.Argument(help="path:line:col (or a selector).")],
            rev: Annotated[str | None, typer.Option(
                "--rev", help="Capture in this git revision instead of the working tree.",
                show_default=False)] = None,
            root: RootOpt = None, json_out: JsonOpt = False) -> int:
    """Turn LOC into one robust selector (symbolic + AST path + anchor, composed)."""
    from lanser.selectors.api import capture_at

    inv = Invocation(root, json_out, None, None)
    result = capture_at(inv.workspace, loc, rev=rev)
    if json_out:
        emit_json(result.to_json())
    else:
        typer.echo(result.selector)
    return 0


def relocate(selector: SelArg,
             rev_from: Annotated[str, typer.Option(
                 "--from", help="The revision SELECTOR was captured on.")],
             rev_to: Annotated[str | None, typer.Option(
                 "--to", help="Where to find it (default: the working tree).",
                 show_default=False)] = None,
             threshold: ThresholdOpt = None, root: RootOpt = None,
             json_out: JsonOpt = False) -> int:
    """Find SELECTOR's code again after it changed, or report it lost (exit 4)."""
    from lanser.selectors.api import relocate as relocate_selector

    inv = Invocation(root, json_out, None, None)
    result = relocate_selector(inv.workspace, selector, rev_from=rev_from, rev_to=rev_to,
                               threshold=threshold)
    if json_out:
        emit_json(result.to_json())
    else:
        span = f"..{result.end}" if result.end is not None else ""
        _console().print(f"[bold]{result.path}:{result.position}{span}[/]  confidence "
                         f"{result.confidence}  method {result.method}")
        origin = result.origin
        _console().print(f"from {origin['path']}:{origin['line']}:{origin['col']} "
                         f"at {rev_from}", markup=False)
    return 0


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _candidates(title: str, rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")  # a selector's [options]
    for col in ("location", "confidence", "method", "reasons"):
        table.add_column(col)
    for row in rows:
        table.add_row(escape(f"{row['path']}:{row['line']}:{row['col']}"),
                      str(row["confidence"]), escape(row["method"]),
                      escape("; ".join(row["reasons"])))
    if not rows:
        table.add_row("(none)", "", "", "")
    _console().print(table)
