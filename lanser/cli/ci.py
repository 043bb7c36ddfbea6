"""``lanser ci``: gate a change for CI (library: lanser/gate/).

Exit status: 0 the gate passed, 1 it failed (a --fail-on condition was met), 2 bad
input (unknown revision, bad --fail-on, not a git repository), 3 the server or the
test runner failed.
"""

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
    run_async,
)
from lanser.errors import ExitCode, UsageError


def register(app: typer.Typer) -> None:
    app.command("ci", context_settings={"allow_extra_args": True})(ci)


def ci(ctx: typer.Context,
       paths: Annotated[list[str] | None, typer.Argument(
           help="Judge diagnostics in these files or folders only (pre-commit passes the "
           "staged files); tests and the reward still look at everything.",
           show_default=False)] = None,
       base: Annotated[str | None, typer.Option(
           "--base", help="The base revision (the PR's target), or [ci] base.",
           show_default=False)] = None,
       head: Annotated[str, typer.Option(
           "--head", help="The head revision; ':worktree' for the working tree, ':staged' "
           "for the index.")] = "HEAD",
       staged: Annotated[bool, typer.Option(
           "--staged", help="Judge the index (what git commit would record): --head "
           ":staged.")] = False,
       fail_on: Annotated[str | None, typer.Option(
           "--fail-on", help="Comma-separated: new-errors, new-warnings, new-diagnostics, "
           "new-failures, reward<X; '' fails on nothing (default: [ci] fail_on, else "
           "new-errors,new-failures).", show_default=False)] = None,
       tests: Annotated[str | None, typer.Option(
           "--tests", help="impact (tests the change can affect), all, or none "
           "(default: [ci] tests, else impact).", show_default=False)] = None,
       profile: Annotated[str | None, typer.Option(
           "--profile", help="Reward profile (default: the workspace's [rewards] profile, "
           "else 'default').", show_default=False)] = None,
       sarif_out: Annotated[Path | None, typer.Option(
           "--sarif", help="Write SARIF 2.1.0 to FILE.", show_default=False)] = None,
       junit_out: Annotated[Path | None, typer.Option(
           "--junit", help="Write the head test run as JUnit XML to FILE.",
           show_default=False)] = None,
       markdown_out: Annotated[Path | None, typer.Option(
           "--markdown", help="Write a Markdown summary to FILE ($GITHUB_STEP_SUMMARY).",
           show_default=False)] = None,
       test_timeout: Annotated[float | None, typer.Option(
           "--test-timeout", help="Seconds one test may run (default: [runner] timeout, "
           "else 60).", show_default=False)] = None,
       root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
       timeout: TimeoutOpt = None) -> int:
    """Gate a change: new diagnostics, new test failures, its reward.

    The change from --base to --head is judged like one agent step: diagnostics new
    at head (by identity: moved code is not new), impact-selected tests run at head
    and the failing ones again at base (new vs old failures), the reward with its
    components. Arguments after `--` go to pytest.
    Exit status: 0 passed, 1 the gate failed, 2 bad input, 3 server or runner failure.
    """
    from lanser.cli.output import dumps
    from lanser.gate import FailOn, check, markdown, sarif
    from lanser.gate.observe import STAGED
    from lanser.gate.testrun import junit
    from lanser.rewards import profile_for_workspace
    from lanser.runner.settings import RunnerSettings

    inv = Invocation(root, json_out, server, timeout)
    workspace = inv.workspace
    section = workspace.config.section("ci")
    runner = RunnerSettings.of(workspace.config, timeout=test_timeout)
    base = base or section.get("base")
    if not base:
        raise UsageError("give --base REV (the revision the change is judged against), or "
                         "set base in [ci]", code="usage")
    chosen = profile_for_workspace(workspace.config.section("rewards"), profile,
                                   workspace.root)
    with _busy(inv, "judging the change"):
        report = run_async(check(
            workspace, base=base, head=STAGED if staged else head,
            fail_on=FailOn.parse(fail_on if fail_on is not None else section.get("fail_on")),
            tests=tests or str(section.get("tests", "impact")), profile=chosen,
            spec=inv.server_spec(), timeout=inv.request_timeout,
            test_timeout=runner.timeout,
            test_args=tuple(ctx.args), paths=paths or (),
            # an approved config's interpreter only (lanser trust), as `lanser test` does
            python=runner.python))
    payload = report.to_json()
    if sarif_out is not None:
        _write(sarif_out, dumps(sarif(report)) + "\n")
    if markdown_out is not None:
        _write(markdown_out, markdown(payload))
    if junit_out is not None and report.tests is not None:
        junit(report.tests, junit_out)
    if json_out:
        emit_json(payload)
    else:
        _show(payload)
    return 0 if report.passed else int(ExitCode.CHECK_FAILED)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror})", code="unwritable",
                         path=str(path)) from None


def _busy(inv: Invocation, what: str):
    import contextlib

    if inv.json:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(what)


def _show(payload: dict) -> None:
    from lanser.cli.render import console
    from lanser.gate import summary_lines

    for line in summary_lines(payload):
        console.print(line, highlight=False)
