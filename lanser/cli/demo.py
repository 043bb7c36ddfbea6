"""``lanser demo``: the main job on the bundled example workspace.

A scripted agent episode on a copy of ``examples/demo`` (a small package with a bug
and failing tests): a query, a wrong edit that the envelope rolls back, two fixes, an
edit the jail refuses, a test run and a submit, each scored by the real pipeline;
then the recorded episode is replayed offline and the numbers compared.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from lanser.cli.common import JsonOpt, ServerOpt, TimeoutOpt, emit_json, run_async


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(keep: Annotated[Path | None, typer.Option(
             "--keep", help="Run in DIR (new) and keep it: the workspace, its episode "
             "and bundles, ready for `lanser replay`.", show_default=False)] = None,
         profile: Annotated[str, typer.Option("--profile", help="Reward profile.")] = "default",
         json_out: JsonOpt = False, server: ServerOpt = None, timeout: TimeoutOpt = None) -> int:
    """Record a scripted agent episode on the bundled example, then replay it."""
    from lanser.episodes.demo import prepare_workspace, run_episode

    with tempfile.TemporaryDirectory(prefix="lanser-demo-") as tmp:
        root = prepare_workspace(keep or Path(tmp) / "demo")
        result = run_async(run_episode(root, server=server or "basedpyright",
                                       profile=profile, timeout=timeout or 60.0))
    if json_out:
        emit_json(result)
        return 0 if result["replay"]["matches"] else 1
    from lanser.cli import render

    render.console.print("[bold]lanser demo[/]: a scripted agent fixes examples/demo "
                         f"(profile {profile}); every step is a real server answer, "
                         "envelope check or test run")
    render.step_rewards(result["steps"], title="recorded episode")
    render.episode_footer(result["footer"])
    render.replayed(result["replay"])
    if keep:
        render.console.print(f"kept: {root} (episode {result['episode']}); try "
                             f"`lanser replay {result['episode']} --root {root} --reexecute`")
    return 0 if result["replay"]["matches"] else 1
