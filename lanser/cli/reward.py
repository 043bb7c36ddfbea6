"""``lanser reward``: the one-shot process reward of a change (library: episodes/oneshot.py).

Exit status: 0 when the change was scored, a refused patch included (a refusal is a
score, with the safety penalty, not a failure: trainers get a number for every
sample), and so is text that is not a diff (scored with the invalid-action penalty);
2 for bad input (unknown revision, missing or unreadable patch file, both --after and
--patch, a workspace outside git, a bad task or profile); 3 when the
server or the test runner failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lanser.cli.common import (
    Invocation,
    JsonOpt,
    RootOpt,
    ServerOpt,
    TimeoutOpt,
    emit_json,
    run_async,
)


def register(app: typer.Typer) -> None:
    """Add ``lanser reward`` to ``app`` (extra arguments after ``--`` go to pytest)."""
    app.command("reward", context_settings={"allow_extra_args": True})(reward)


def reward(ctx: typer.Context,
           before: Annotated[str, typer.Option(
               "--before", help="The base revision the change is scored against.")] = "HEAD",
           after: Annotated[str | None, typer.Option(
               "--after", help="The changed revision (default: the working tree as it is).",
               show_default=False)] = None,
           patch: Annotated[str | None, typer.Option(
               "--patch", help="A unified diff applied to the --before tree in a scratch "
               "copy ('-': stdin); a diff that does not apply is scored as refused, text "
               "that is not a diff as an invalid action.",
               show_default=False)] = None,
           profile: Annotated[str | None, typer.Option(
               "--profile", help="Reward profile (rewards/NAME.toml or a path; default: "
               "the workspace's [rewards] profile, else 'default').",
               show_default=False)] = None,
           task: Annotated[Path | None, typer.Option(
               "--task", help="Task JSON: FAIL_TO_PASS, PASS_TO_PASS, targets, test_args, "
               "name.")] = None,
           f2p: Annotated[list[str] | None, typer.Option(
               "--f2p", help="A fail-to-pass test id (repeatable).")] = None,
           p2p: Annotated[list[str] | None, typer.Option(
               "--p2p", help="A pass-to-pass test id (repeatable).")] = None,
           target: Annotated[list[str] | None, typer.Option(
               "--target", help="A target file of the task (repeatable; the 'targets' "
               "scope).")] = None,
           test_timeout: Annotated[float | None, typer.Option(
               "--test-timeout", help="Seconds one test may run (default 60, or [runner] "
               "timeout).", show_default=False)] = None,
           root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
           timeout: TimeoutOpt = None) -> int:
    """Score one change against a base revision: one step of the process reward.

    The after side is --patch applied to the --before tree, else --after, else the
    working tree (so `lanser reward` alone scores uncommitted work against HEAD).
    Nothing in the workspace's files is written: both sides are checked out in a
    scratch copy. Arguments after `--` go to pytest on every test run.
    Exit status: 0 scored (a refused or malformed patch too), 2 bad input, 3 server or
    runner failure.
    """
    from lanser.episodes import oneshot
    from lanser.episodes.task import TaskSpec
    from lanser.rewards import profile_for_workspace
    from lanser.runner.settings import RunnerSettings

    inv = Invocation(root, json_out, server, timeout)
    workspace = inv.workspace
    chosen = profile_for_workspace(workspace.config.section("rewards"), profile,
                                   workspace.root)
    spec = TaskSpec.load(task, f2p=f2p or (), p2p=p2p or (), targets=target or (),
                         test_args=tuple(ctx.args))
    text = oneshot.read_patch(patch) if patch is not None else None
    with _busy(inv, "scoring the change"):
        result = run_async(oneshot.score(workspace, before=before, after=after, patch=text,
                                         profile=chosen, task=spec, spec=inv.server_spec(),
                                         timeout=inv.request_timeout,
                                         test_timeout=RunnerSettings.of(
                                             workspace.config, timeout=test_timeout).timeout))
    payload = result.to_json()
    if json_out:
        emit_json(payload)
    else:
        _show(payload)
    return 0


def _busy(inv: Invocation, what: str) -> Any:
    """A spinner on stderr for humans (scoring takes seconds); nothing in --json mode."""
    import contextlib

    if inv.json:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(what)


def _number(value: dict[str, Any]) -> str:
    """A reward value for people: its decimal, trimmed; green up, red down."""
    number = value["decimal"].rstrip("0").rstrip(".") or "0"
    style = "green" if value["float"] > 0 else "red" if value["float"] < 0 else "dim"
    return f"[{style}]{number}[/]"


def _show(payload: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    from lanser.cli.render import console

    before, after = payload["before"], payload["after"]
    table = Table("component", "reward", "exact", "before", "after", box=box.SIMPLE_HEAD,
                  pad_edge=False, title=f"reward ({payload['profile']['name']} profile)")
    for name, value in payload["components"].items():
        table.add_row(name, _number(value), value["exact"],
                      before["potentials"].get(name, ""), after["potentials"].get(name, ""))
    table.add_row("[bold]total[/]", _number({"decimal": payload["total_decimal"],
                                             "float": payload["total"]}),
                  payload["total_exact"], "", "")
    console.print(table)
    status = payload["status"] + (f" ({payload['reason']})" if payload["reason"] else "")
    edit = payload.get("edit") or {}
    if edit.get("message"):
        status += f": {edit['message']}"
    console.print(f"{before['rev']} {before['tree'][:12]} -> "
                  f"{after['rev'] or payload['source'].replace('_', ' ')} "
                  f"{after['tree'][:12]}: {len(payload['changed'])} changed, {status}")
    for side in ("before", "after"):
        diag = payload[side]["diagnostics"]["summary"]
        tests = payload[side]["tests"]
        line = f"{side}: {diag['error']} errors, {diag['warning']} warnings"
        if tests is not None:
            counts = ", ".join(f"{n} {k}" for k, n in tests["summary"]["counts"].items())
            line += f"; tests {counts or 'none'}, credit {tests['summary']['credit']}"
        if payload[side]["resolved"]:
            line += "; resolved"
        console.print(line)
    for side in ("before", "after"):  # a listed id no test answered: named
        for nodeid in (payload[side]["tests"] or {}).get("missing", ()):
            console.print(f"{side}: missing (no such test ran): {nodeid}", markup=False)
