"""``lanser episode serve|run`` (online, recorded) and ``lanser replay`` (offline).

``serve`` speaks JSON lines: one action per stdin line, one observation per stdout
line (the first line announces the episode, the last carries the footer). ``run``
takes the actions from a file. Both write the episode file (``--out``, default under
``.lanser/episodes/``). Exit status of ``replay``: 0 when every number (or, with
``--reexecute``, every bundle hash) matches the recording, 1 when not.
"""

from __future__ import annotations

import sys
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
from lanser.cli.output import dumps

episode_app = typer.Typer(help="Run a recorded agent episode: actions in, rewards out.",
                          no_args_is_help=True)

ProfileOpt = Annotated[str | None, typer.Option(
    "--profile", help="Reward profile (rewards/NAME.toml; default: the workspace's).",
    show_default=False)]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Episode file to write (default .lanser/episodes/<time>.jsonl).",
    show_default=False)]
TaskOpt = Annotated[Path | None, typer.Option(
    "--task", help="Task JSON: FAIL_TO_PASS, PASS_TO_PASS, targets, test_args, name.")]
F2POpt = Annotated[list[str] | None, typer.Option(
    "--f2p", help="A fail-to-pass test id (repeatable).")]
P2POpt = Annotated[list[str] | None, typer.Option(
    "--p2p", help="A pass-to-pass test id (repeatable).")]
TargetOpt = Annotated[list[str] | None, typer.Option(
    "--target", help="A target file of the task (repeatable; the 'targets' scope).")]
TestTimeoutOpt = Annotated[float | None, typer.Option(
    "--test-timeout", help="Seconds one test may run (default 60, or [runner] timeout).",
    show_default=False)]
VerifyOpt = Annotated[bool, typer.Option(
    "--verify/--no-verify", help="Check diagnostics after each edit; roll back new errors.")]


def register(app: typer.Typer) -> None:
    episode_app.command("serve")(serve)
    episode_app.command("run")(run)
    app.add_typer(episode_app, name="episode")
    app.command("replay")(replay)


def _default_out(workspace: Any) -> Path:
    import os
    import time

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return workspace.state_dir / "episodes" / f"{stamp}-{os.getpid()}.jsonl"


def _start(inv: Invocation, out: Path | None, profile: str | None, task: Path | None,
           f2p: list[str] | None, p2p: list[str] | None, target: list[str] | None
           ) -> tuple[Path, Any, Any]:
    from lanser.episodes.task import TaskSpec
    from lanser.rewards import profile_for_workspace

    workspace = inv.workspace
    chosen = profile_for_workspace(workspace.config.section("rewards"), profile, workspace.root)
    spec = TaskSpec.load(task, f2p=f2p or (), p2p=p2p or (), targets=target or ())
    # The default is under .lanser/, which this creates with its .gitignore first: an
    # --out there must not make it a bare directory that every snapshot would include.
    default = _default_out(workspace)
    path = out or default
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, chosen, spec


def serve(out: OutOpt = None, profile: ProfileOpt = None, task: TaskOpt = None,
          f2p: F2POpt = None, p2p: P2POpt = None, target: TargetOpt = None,
          test_timeout: TestTimeoutOpt = None, verify: VerifyOpt = True,
          root: RootOpt = None, server: ServerOpt = None, timeout: TimeoutOpt = None) -> int:
    """Agent loop on stdin/stdout: one JSON action per line in, one observation out."""
    inv = Invocation(root, True, server, timeout)
    path, chosen, spec = _start(inv, out, profile, task, f2p, p2p, target)
    from lanser.episodes.lines import read_action_lines
    from lanser.episodes.recorder import record

    def emit(message: dict[str, Any]) -> None:
        sys.stdout.write(dumps(message) + "\n")
        sys.stdout.flush()

    run_async(record(inv.workspace, read_action_lines(sys.stdin), path, profile=chosen,
                     task=spec, spec=inv.server_spec(), timeout=inv.request_timeout,
                     test_timeout=_test_timeout(inv, test_timeout), verify=verify,
                     on_observation=emit,
                     on_header=lambda h: emit({"episode": {"id": h["id"], "file": str(path),
                                                           "base": h["base"]}}),
                     on_footer=lambda f: emit({"footer": f})))
    return 0


def run(actions: Annotated[Path, typer.Argument(help="JSON lines of actions ('-': stdin).")],
        out: OutOpt = None, profile: ProfileOpt = None, task: TaskOpt = None,
        f2p: F2POpt = None, p2p: P2POpt = None, target: TargetOpt = None,
        test_timeout: TestTimeoutOpt = None, verify: VerifyOpt = True,
        root: RootOpt = None, json_out: JsonOpt = False, server: ServerOpt = None,
        timeout: TimeoutOpt = None) -> int:
    """Run a file of actions as one recorded episode; show each step's reward."""
    from lanser.episodes.lines import action_lines
    from lanser.errors import UsageError

    inv = Invocation(root, json_out, server, timeout)
    if str(actions) == "-":
        lines = list(action_lines(sys.stdin))
    else:
        import io

        from lanser.jsonio import read_bounded

        try:  # bounded, a regular file (a device or a FIFO is exit 2, not a hang)
            text = read_bounded(actions, what="actions file").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{actions}: not UTF-8 ({exc.reason})", code="bad_input") from None
        lines = list(action_lines(io.StringIO(text)))
    path, chosen, spec = _start(inv, out, profile, task, f2p, p2p, target)
    from lanser.episodes.recorder import record

    observations: list[dict[str, Any]] = []
    footer: dict[str, Any] = {}

    def observed(obs: dict[str, Any]) -> None:
        observations.append(obs)
        if not json_out:  # each step as it happens, at a terminal (issue 15, defect 11)
            from lanser.cli.render import progress

            progress(f"step {obs['step']}: {obs.get('kind', '')} {obs['status']}, reward "
                     f"{obs['reward']['total_decimal']}")

    run_async(record(inv.workspace, lines, path, profile=chosen, task=spec,
                     spec=inv.server_spec(), timeout=inv.request_timeout,
                     test_timeout=_test_timeout(inv, test_timeout), verify=verify,
                     on_observation=observed, on_footer=footer.update))
    if json_out:
        emit_json({"file": str(path), "steps": observations, "footer": footer})
        return 0
    from lanser.cli import render

    render.step_rewards(observations, title=f"episode {path}")
    render.episode_footer(footer)
    return 0


def replay(episode: Annotated[Path, typer.Argument(help="The episode file (.jsonl).")],
           profile: ProfileOpt = None,
           reexecute: Annotated[bool, typer.Option(
               "--reexecute", help="Rebuild each snapshot, re-run servers and tests, and "
               "compare bundle hashes.")] = False,
           test_timeout: Annotated[float | None, typer.Option(
               "--test-timeout", help="Seconds one test may run when re-executing "
               "(default: as recorded).", show_default=False)] = None,
           root: RootOpt = None, json_out: JsonOpt = False, timeout: TimeoutOpt = None) -> int:
    """Recompute an episode's rewards from its recorded bundles (no server, no tests)."""
    from lanser.episodes import format as episode_format
    from lanser.episodes import replay as replaying

    inv = Invocation(root, json_out, None, timeout)
    recorded = episode_format.load(episode)
    if reexecute:
        import contextlib

        waiting = contextlib.nullcontext()
        if not json_out:
            from lanser.cli.render import busy

            waiting = busy("re-executing the episode: snapshots, servers, tests")
        with waiting:
            report = run_async(replaying.reexecute(inv.workspace, recorded,
                                                   timeout=inv.request_timeout,
                                                   test_timeout=test_timeout))
        matched = all(r["match"] for r in report)
        if json_out:
            emit_json({"matches": matched, "steps": report})
        else:
            from lanser.cli import render

            render.reexecution(report)
        return 0 if matched else 1
    result = replaying.replay(inv.workspace, recorded, profile)
    if json_out:
        emit_json(result.to_json())
    else:
        from lanser.cli import render

        render.replayed(result.to_json())
    return 0 if result.matches else 1


def _test_timeout(inv: Invocation, given: float | None) -> float:
    """``--test-timeout``, else ``[runner] timeout``, else the runner's default."""
    from lanser.runner.settings import RunnerSettings

    return RunnerSettings.of(inv.workspace.config, timeout=given).timeout
