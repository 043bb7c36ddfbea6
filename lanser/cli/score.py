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

from lanser.cli.common import JsonOpt, ServerOpt, TimeoutOpt, emit_json
from lanser.cli.progress import ProgressBar


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    app.command("tools")(tools)
    serve = typer.Typer(help="Reward and environment servers for trainers (extra 'serve').",
                        no_args_is_help=True)
    serve.command("reward")(serve_reward)
    serve.command("env")(serve_env)
    app.add_typer(serve, name="serve")


TasksArg = Annotated[Path, typer.Argument(
    help="Tasks: a JSONL of task records, or a workspace (its task.json/toml).")]
RepoOpt = Annotated[Path | None, typer.Option(
    "--repo", help="The clone the tasks' base commits are in (default: each task's 'repo' "
    "as a directory next to the tasks file).", show_default=False)]
ProfileOpt = Annotated[str, typer.Option(
    "--profile", help="Reward profile (a name or a TOML path).")]
ExecutorOpt = Annotated[str, typer.Option(
    "--executor", help="local (worker processes here) or ray (actors across a Ray cluster; "
    "extra 'ray').")]
RayAddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", help="The cluster to join (auto, or HOST:PORT; default: start a local "
    "one).", show_default=False)]


def check_executor(executor: str) -> str:
    """``--executor``'s value, or a usage error (exit 2) before any worker starts."""
    if executor not in ("local", "ray"):
        from lanser.errors import UsageError

        raise UsageError(f"--executor {executor}: expected local or ray", code="usage")
    return executor


HostOpt = Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")]
PortOpt = Annotated[int, typer.Option("--port", help="Port to listen on.")]


def score(tasks: TasksArg,
          completions: Annotated[Path, typer.Argument(
              help="JSONL: instance_id, completion, optional format.")],
          out: Annotated[Path, typer.Option(
              "-o", "--out", help="Rewards JSONL (appended to, resumed if it exists).")],
          workers: Annotated[int, typer.Option("--workers", min=1,
                                               help="Worker processes.")] = 1,
          repo: RepoOpt = None, profile: ProfileOpt = "default",
          json_out: JsonOpt = False, server: ServerOpt = None, timeout: TimeoutOpt = None,
          test_timeout: Annotated[float, typer.Option(
              "--test-timeout", help="Seconds one test may take.")] = 60.0,
          executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None) -> int:
    """Score model completions against tasks: one reward line per completion."""
    from lanser.rewards import load_profile
    from lanser.scoring import Scorer, load_tasks
    from lanser.scoring.batch import read_completions, score_file

    check_executor(executor)
    chosen = load_profile(profile)
    listed = load_tasks(tasks, repo)
    read_completions(completions)  # exit 2 on a bad line before any worker starts
    with Scorer(listed, chosen, workers=workers, server=server, timeout=timeout or 60.0,
                test_timeout=test_timeout, executor=executor,
                ray_address=ray_address) as scorer, \
            ProgressBar("scoring", quiet=json_out, eta=True) as bar:
        counts = score_file(scorer, completions, out, chunk=max(8, 4 * workers),
                            progress=bar.update)
        # Ray: which nodes scored how much (throughput per node; never in the results).
        nodes = scorer.executor.per_node() if hasattr(scorer.executor, "per_node") else None
    if json_out:
        emit_json({"out": str(out), "counts": counts, **({"nodes": nodes} if nodes else {})})
    else:
        print(f"{out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
        for node, seen in (nodes or {}).items():
            print(f"  node {node[:12]}: {seen['scored']:g} scored, {seen['per_s']:.2f}/s",
                  file=sys.stderr)
    return 3 if counts.get("failed") else 0


def _need_serve() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        from lanser.errors import UsageError

        raise UsageError("the servers need the 'serve' extra: pip install 'lanser[serve]'",
                         code="missing_extra") from None


def serve_reward(tasks: TasksArg, repo: RepoOpt = None, profile: ProfileOpt = "default",
                 workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
                 host: HostOpt = "127.0.0.1", port: PortOpt = 8000,
                 max_concurrency: Annotated[int, typer.Option(
                     "--max-concurrency", min=1, help="Requests in flight (503 beyond).")] = 4,
                 server: ServerOpt = None, executor: ExecutorOpt = "local",
                 ray_address: RayAddressOpt = None) -> int:
    """OpenRLHF's remote reward server: POST /get_reward, GET /health."""
    check_executor(executor)
    _need_serve()
    from lanser.rewards import load_profile
    from lanser.scoring import Scorer, load_tasks
    from lanser.scoring.serve import reward_app, run

    with Scorer(load_tasks(tasks, repo), load_profile(profile), workers=workers,
                server=server, executor=executor, ray_address=ray_address) as scorer:
        run(reward_app(scorer, max_concurrency=max_concurrency), host, port)
    return 0


def serve_env(tasks: TasksArg, repo: RepoOpt = None, profile: ProfileOpt = "default",
              host: HostOpt = "127.0.0.1", port: PortOpt = 8001,
              max_sessions: Annotated[int, typer.Option("--max-sessions", min=1)] = 8,
              idle_timeout: Annotated[float, typer.Option(
                  "--idle-timeout", help="Seconds before an idle session is closed.")] = 600.0,
              server: ServerOpt = None) -> int:
    """The episode loop as an environment: POST /reset, POST /step, GET /state/ID."""
    _need_serve()
    from lanser.rewards import load_profile
    from lanser.scoring import load_tasks
    from lanser.scoring.envserver import Sessions, env_app
    from lanser.scoring.serve import run

    listed = {t.instance_id: t for t in load_tasks(tasks, repo)}
    sessions = Sessions(listed, load_profile(profile), server=server,
                        max_sessions=max_sessions, idle_timeout=idle_timeout)
    run(env_app(sessions), host, port)
    return 0


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
