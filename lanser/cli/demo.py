"""``lanser demo``: the main job on the bundled example workspace."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from lanser.cli.common import JsonOpt, ServerOpt, TimeoutOpt, emit_json, handle_errors, run_async


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


@handle_errors
def demo(json_out: JsonOpt = False, server: ServerOpt = None, timeout: TimeoutOpt = None) -> int:
    """Run lanser's pipeline on the bundled example (a copy in a temp dir)."""
    from lanser.demo import language_tour, prepare_workspace

    with tempfile.TemporaryDirectory(prefix="lanser-demo-") as tmp:
        root = prepare_workspace(Path(tmp) / "demo")
        result = run_async(language_tour(root, server or "basedpyright", timeout or 60.0))
    if json_out:
        emit_json(result)
        return 0
    from lanser.cli import render

    info = result["server"]
    render.console.print(f"[bold]lanser demo[/] on examples/demo with {info['name']} "
                         f"{info['version']}")
    for step in result["steps"]:
        request = step["request"]
        where = (f" {request['path']}:{request['line']}:{request['col']}"
                 if "line" in request else "")
        render.console.rule(f"{request['op']}{where}")
        answer = dict(step["answer"], op=request["op"])
        if request["op"] == "diagnostics":
            from lanser.query import diagnostics_summary

            answer["summary"] = diagnostics_summary(answer["files"])
        render.answer(answer)
    return 0
