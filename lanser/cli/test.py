"""``lanser test``: a sandboxed pytest run with per-test outcomes and partial credit.

Exit status: 0 when every selected test passed (or the task resolved), 1 when some
failed or none ran, 2 for bad input, 3 when the runner itself failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lanser.cli.common import Invocation, JsonOpt, RootOpt, ServerOpt, emit_json
from lanser.errors import ExitCode

TestTimeoutOpt = Annotated[float | None, typer.Option(
    "--timeout", help="Seconds one test may run (default 60, or [runner] timeout).",
    show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("test", context_settings={"allow_extra_args": True,
                                          "ignore_unknown_options": True})(test)


def test(ctx: typer.Context,
         rev: Annotated[str | None, typer.Option(
             "--rev", help="Test this git revision instead of the working tree.")] = None,
         run_timeout: Annotated[float | None, typer.Option(
             "--run-timeout", help="Seconds the whole run may take (default 1800).",
             show_default=False)] = None,
         memory: Annotated[int | None, typer.Option(
             "--memory", help="Memory limit, MiB (default 4096): of the whole process tree "
             "where a memory cgroup can be made, else of each process's address space.",
             show_default=False)] = None,
         reruns: Annotated[int, typer.Option(
             "--reruns", help="Rerun failures N times; a changed outcome is flaky.")] = 0,
         f2p: Annotated[list[str] | None, typer.Option(
             "--f2p", help="A fail-to-pass test id (repeatable).")] = None,
         p2p: Annotated[list[str] | None, typer.Option(
             "--p2p", help="A pass-to-pass test id (repeatable).")] = None,
         task: Annotated[Path | None, typer.Option(
             "--task", help="JSON with FAIL_TO_PASS / PASS_TO_PASS lists.")] = None,
         all_tests: Annotated[bool, typer.Option(
             "--all-tests", help="With --f2p/--p2p/--task: run the whole suite, not only "
             "the listed tests (they still grade).")] = False,
         junit: Annotated[Path | None, typer.Option(
             "--junit", help="Also write JUnit XML to FILE.")] = None,
         bundle_out: Annotated[Path | None, typer.Option(
             "--bundle", help="Write the result as a hashed bundle to FILE "
             "(no -o: that one belongs to pytest).")] = None,
         base: Annotated[str | None, typer.Option(
             "--base", help="Test-impact selection against this base revision "
             "(its coverage map is built once and kept under .lanser/).")] = None,
         full: Annotated[bool, typer.Option(
             "--full", help="Run the full suite even with --base.")] = False,
         script: Annotated[str | None, typer.Option(
             "--script", help="Run this program instead of pytest; checkpoint credit.")] = None,
         python: Annotated[str | None, typer.Option(
             "--python", help="Interpreter for the tests (default: lanser's).")] = None,
         root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
         timeout: TestTimeoutOpt = None) -> int:
    """Run pytest in a sandbox: per-test outcomes, partial credit, grading.

    Arguments lanser does not know go to pytest (after `--`, all of them do).
    Exit status: 0 every selected test passed (or the --f2p/--p2p/--task set
    resolved), 1 some failed or none ran, 2 bad input, 3 the runner itself failed.
    """
    inv = Invocation(root, json_out, server, timeout)
    ws = inv.workspace
    from lanser.runner.settings import RunnerSettings

    settings = RunnerSettings.of(ws.config, timeout=timeout, run_timeout=run_timeout,
                                 memory_mb=memory, python=python)
    per_test, memory, python = settings.timeout, settings.memory_mb, settings.python
    if script is not None:
        from lanser.runner.checkpoint import run_script

        with _busy(inv, f"running {script} in a sandbox"):
            outcome = run_script(ws, script, args=tuple(ctx.args), rev=rev, timeout=per_test,
                                 memory_mb=memory, python=python)
        _show_script(inv, outcome.to_json())
        return 0 if outcome.exit_status == 0 else int(ExitCode.CHECK_FAILED)

    from lanser.runner import TestLists, grade, run_tests, select_args

    wanted = TestLists.load(task) if task else TestLists(tuple(f2p or ()), tuple(p2p or ()))
    args = tuple(ctx.args)
    if not all_tests:  # the listed tests are what runs (issue 15, defect 8)
        args = (*args, *select_args(wanted.fail_to_pass, wanted.pass_to_pass))
    with _busy(inv, "running tests in a sandbox"):
        selector = _impact_map(ws, base, args, per_test, python) \
            if base and not full else None
        result = run_tests(ws, rev=rev, args=args, timeout=per_test,
                           run_timeout=settings.run_timeout, memory_mb=memory, reruns=reruns,
                           select=selector, python=python)
    graded = grade(result, wanted.fail_to_pass, wanted.pass_to_pass) \
        if (wanted.fail_to_pass or wanted.pass_to_pass) else None
    if junit is not None:
        from lanser.runner.junit import write_junit

        write_junit(result, junit)
    if bundle_out is not None:
        from lanser.bundles import dump_bundle

        bundle_out.write_text(dump_bundle(result.bundle(ws)), encoding="utf-8")
    payload = result.to_json()
    if graded is not None:
        payload["grade"] = graded
    _show(inv, payload, result.output)
    if not result.tests and graded is None:
        # nothing ran: not a pass (issue 15, defect 11)
        if not inv.json:
            from rich.console import Console

            Console(stderr=True).print("no tests ran (check the paths, -k, or the test "
                                       "configuration)", markup=False)
        return int(ExitCode.CHECK_FAILED)
    ok = graded["resolved"] if graded is not None else not any(t.failing for t in result.tests)
    return 0 if ok else int(ExitCode.CHECK_FAILED)


def _busy(inv: Invocation, what: str):
    """A spinner on stderr for humans; nothing in --json mode."""
    import contextlib

    if inv.json:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(what)


def _impact_map(ws, base: str, args: tuple[str, ...], per_test: float, python: str | None):
    from lanser.runner.run import cached_map

    return cached_map(ws, base, args=args, timeout=per_test, python=python)


def impact_key(tree: str, args: tuple[str, ...], python: str | None) -> str:
    """:func:`lanser.runner.impact.impact_key` (imported late: ``--help`` stays fast)."""
    from lanser.runner.impact import impact_key as key

    return key(tree, args, python)


def _show(inv: Invocation, payload: dict, output: str) -> None:
    if inv.json:
        emit_json(payload)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    shown = [t for t in payload["tests"] if t["outcome"] not in ("passed", "xfailed")]
    if shown and not console.is_terminal:  # a pipe, a CI log: whole node ids, one a line
        for t in shown:
            message = " ".join((t["message"] or "").split())
            print(f"{t['nodeid']}: {t['outcome']} in {t['phase']}, credit "
                  f"{t['credit'] or '-'}" + (f": {message}" if message else ""))
    elif shown:
        table = Table(box=None)
        table.add_column("test", overflow="fold")
        for name in ("outcome", "phase", "credit", "message"):
            table.add_column(name)
        for t in shown:
            table.add_row(escape(t["nodeid"]), t["outcome"], t["phase"], t["credit"] or "-",
                          escape((t["message"] or "").splitlines()[0][:80]) if t["message"]
                          else "")
        console.print(table)
    summary = payload["summary"]
    counts = ", ".join(f"{n} {k}" for k, n in summary["counts"].items()) or "no tests"
    console.print(f"[bold]{summary['status']}[/]: {counts}; credit {summary['credit']}")
    if payload.get("selection"):
        sel = payload["selection"]
        console.print(f"impact selection: {len(sel.get('changed', []))} changed files, "
                      f"{sel.get('skipped', 0)} tests reused")
    if "grade" in payload:
        g = payload["grade"]
        console.print(f"resolved: {g['resolved']}  f2p {g['f2p']['passed']}/{g['f2p']['total']}"
                      f"  p2p {g['p2p']['passed']}/{g['p2p']['total']}")
        for name in ("f2p", "p2p"):
            for nodeid in g[name]["missing"]:
                console.print(f"{name} missing (no such test ran): {nodeid}", markup=False)
    for key, value in payload["sandbox"].items():
        if "not isolated" in str(value):
            console.print(f"[yellow]warning[/]: {key}: {value}")


def _show_script(inv: Invocation, payload: dict) -> None:
    if inv.json:
        emit_json(payload)
        return
    from rich.console import Console

    Console(highlight=False).print(
        f"{payload['path']}: exit {payload['exit_status']}, checkpoints "
        f"{payload['reached']}/{payload['checkpoints']}, credit {payload['credit']}")
