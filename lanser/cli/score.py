"""``lanser score`` (completions in, rewards out) and ``lanser tools`` (the tool schemas).

Library: :mod:`lanser.scoring` (``batch.score_file``, ``Scorer``, ``tools``).
Exit status of ``score``: 0 every line scored (an invalid or refused completion is a
score), 2 bad input (tasks, completions, profile), 3 a line lanser could not score
(``failed``: reported, the others are in the file).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lanser.cli.common import JsonOpt, ServerOpt, TimeoutOpt, emit_json, handle_errors


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    app.command("tools")(tools)


@handle_errors
def score(tasks: Annotated[Path, typer.Argument(
              help="Tasks: a JSONL of task records, or a workspace (its task.json/toml).")],
          completions: Annotated[Path, typer.Argument(
              help="JSONL: instance_id, completion, optional format.")],
          out: Annotated[Path, typer.Option(
              "-o", "--out", help="Rewards JSONL (appended to, resumed if it exists).")],
          workers: Annotated[int, typer.Option("--workers", min=1,
                                               help="Worker processes.")] = 1,
          repo: Annotated[Path | None, typer.Option(
              "--repo", help="The clone the tasks' base commits are in (default: each "
              "task's 'repo' as a directory next to the tasks file).",
              show_default=False)] = None,
          profile: Annotated[str, typer.Option(
              "--profile", help="Reward profile (a name or a TOML path).")] = "default",
          json_out: JsonOpt = False, server: ServerOpt = None, timeout: TimeoutOpt = None,
          test_timeout: Annotated[float, typer.Option(
              "--test-timeout", help="Seconds one test may take.")] = 60.0) -> int:
    """Score model completions against tasks: one reward line per completion."""
    from lanser.rewards import load_profile
    from lanser.scoring import Scorer, load_tasks
    from lanser.scoring.batch import read_completions, score_file

    chosen = load_profile(profile)
    listed = load_tasks(tasks, repo)
    read_completions(completions)  # exit 2 on a bad line before any worker starts
    with Scorer(listed, chosen, workers=workers, server=server, timeout=timeout or 60.0,
                test_timeout=test_timeout) as scorer, _Progress(json_out) as bar:
        counts = score_file(scorer, completions, out, chunk=max(8, 4 * workers),
                            progress=bar.update)
    if json_out:
        emit_json({"out": str(out), "counts": counts})
    else:
        print(f"{out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    return 3 if counts.get("failed") else 0


class _Progress:
    """A rich bar on stderr with rate and ETA (a tty only: logs get the summary)."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        self.bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                            console=console, disable=quiet or not console.is_terminal)
        self.task = self.bar.add_task("score", total=None, rate="")
        self.first: int | None = None
        self.start = 0.0

    def update(self, done: int, total: int) -> None:
        import time

        now = time.monotonic()
        if self.first is None:
            self.first, self.start = done, now
        elapsed = now - self.start
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        self.bar.update(self.task, completed=done, total=total, rate=f"{rate:.1f}/s")

    def __enter__(self) -> _Progress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


@handle_errors
def tools(json_out: JsonOpt = False) -> int:
    """The episode actions as OpenAI-style tools (JSON Schemas) for a prompt's tool list."""
    from lanser.scoring.tools import tool_schemas

    schemas = tool_schemas()
    if json_out:
        emit_json({"tools": schemas})
    else:
        for tool in schemas:
            fn = tool["function"]
            print(f"{fn['name']:8} {fn['description']}")
    return 0
