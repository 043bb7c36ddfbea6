"""``lanser serve env``: the episode loop as an environment (reset / step / state).

The shape OpenEnv and TRL's environment support use::

    POST /reset   {"task_id"}                 -> {"session_id", "observation"}
    POST /step    {"session_id", "action"}    -> {"observation", "reward", "done", "state"}
    GET  /state/{session_id}                  -> the session's state
    DELETE /sessions/{session_id}             -> closed
    GET  /health

``action`` is an episode action (``rewards/EPISODES.md``, the tools of ``lanser tools``).
Each session is its own workspace (the task's base tree materialized from the clone;
the test_patch in it only when the task shows it) with its own warm language server
and an episode file recorded as ``lanser episode`` records one, so the step rewards
are the episode functional's, replayable. Sessions left idle for ``idle_timeout``
seconds are closed and their workspaces removed; at most ``max_sessions`` live at once
(503 beyond). Binds 127.0.0.1 unless told otherwise. Needs the ``serve`` extra.
"""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations
# (Request, imported inside the app factory) at definition time.

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.rewards import Profile
from lanser.scoring.serve import error, json_or_error
from lanser.scoring.tasks import ScoringTask


@dataclass
class Session:
    id: str
    task: ScoringTask
    dir: Path
    recorder: Any = None
    observer: Any = None
    stream: Any = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)

    def state(self) -> dict[str, Any]:
        from lanser.rewards import episode_return

        recorder = self.recorder
        return {"session_id": self.id, "task_id": self.task.instance_id,
                "steps": recorder.steps, "done": recorder.done,
                "return": episode_return(recorder.rewards).to_json()["total"]}


class Sessions:
    """Live sessions: opened by reset, closed on request, when idle, or at shutdown."""

    def __init__(self, tasks: dict[str, ScoringTask], profile: Profile, *,
                 server: str | None = None, timeout: float = 60.0,
                 test_timeout: float = 60.0, max_sessions: int = 8,
                 idle_timeout: float = 600.0) -> None:
        self.tasks, self.profile = tasks, profile
        self.server, self.timeout, self.test_timeout = server, timeout, test_timeout
        self.max_sessions, self.idle_timeout = max_sessions, idle_timeout
        self.live: dict[str, Session] = {}
        self.scratch = Path(tempfile.mkdtemp(prefix="lanser-env-"))

    async def open(self, task_id: str) -> Session:
        from lanser.episodes import snapshots
        from lanser.episodes.format import Writer
        from lanser.episodes.observer import Observer
        from lanser.episodes.recorder import Recorder, TaskSpec
        from lanser.lsp.registry import get_server
        from lanser.workspace import Workspace

        task = self.tasks[task_id]
        session = Session(secrets.token_hex(8), task, Path(tempfile.mkdtemp(dir=self.scratch)))
        repo = Workspace.open(task.repo_dir)
        tree = snapshots.git(repo.root, "rev-parse", "--verify", f"{task.base_commit}^{{tree}}")
        root = snapshots.materialize(repo, tree, session.dir / "ws")
        if task.test_patch_visible and task.test_patch.strip():
            snapshots.git(root, "apply", "-", input=task.test_patch)
            snapshots.git(root, "add", "-A")
            commit = snapshots.git(root, "commit-tree", snapshots.git(root, "write-tree"),
                                   "-p", "HEAD", "-m", "test_patch", env=snapshots._FIXED)
            snapshots.git(root, "update-ref", "HEAD", commit)
        workspace = Workspace.open(root)
        spec = get_server(self.server or "basedpyright", None)  # never the task's config
        session.observer = Observer(workspace, spec, timeout=self.timeout,
                                    test_timeout=self.test_timeout)
        await session.observer.__aenter__()
        session.stream = (session.dir / "episode.jsonl").open("w", encoding="utf-8")
        hidden = task.hidden_tests  # graded, their outcomes never shown (issue 16)
        task_spec = TaskSpec(task.instance_id, task.targets,
                             tuple(t for t in task.fail_to_pass if t not in hidden),
                             task.pass_to_pass, task.test_args, task.protected, hidden)
        session.recorder = Recorder(workspace, session.observer, self.profile, task_spec,
                                    Writer(session.stream))
        try:
            await session.recorder.start()
        except BaseException:
            await self._close(session)
            raise
        self.live[session.id] = session
        return session

    async def close(self, session_id: str) -> bool:
        session = self.live.pop(session_id, None)
        if session is None:
            return False
        async with session.lock:
            await self._close(session)
        return True

    async def _close(self, session: Session) -> None:
        with contextlib.suppress(Exception):
            if session.recorder is not None and getattr(session.recorder, "header", None):
                session.recorder.finish()
        with contextlib.suppress(Exception):
            await session.observer.__aexit__(None, None, None)
        if session.stream is not None:
            session.stream.close()
        shutil.rmtree(session.dir, ignore_errors=True)

    async def reap(self) -> int:
        """Close sessions idle past ``idle_timeout``; how many were closed."""
        now = time.monotonic()
        idle = [s.id for s in self.live.values()
                if now - s.last_used > self.idle_timeout and not s.lock.locked()]
        for session_id in idle:
            await self.close(session_id)
        return len(idle)

    async def shutdown(self) -> None:
        for session_id in list(self.live):
            await self.close(session_id)
        shutil.rmtree(self.scratch, ignore_errors=True)


def env_app(sessions: Sessions, *, max_body: int = 16 * 1024 * 1024,
            reap_every: float = 30.0) -> Any:
    """The FastAPI app (module docstring)."""
    from fastapi import FastAPI, Request

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> Any:
        async def reaper() -> None:
            while True:
                await asyncio.sleep(reap_every)
                await sessions.reap()

        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            await sessions.shutdown()

    app = FastAPI(title="lanser env", docs_url=None, redoc_url=None, lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "tasks": len(sessions.tasks), "sessions": len(sessions.live),
                "max_sessions": sessions.max_sessions}

    @app.post("/reset")
    async def reset(request: Request) -> Any:
        data, refused = await json_or_error(request, max_body)
        if refused is not None:
            return refused
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if task_id not in sessions.tasks:
            return error(404, "unknown_task", f"no task {task_id!r}")
        if len(sessions.live) >= sessions.max_sessions:
            return error(503, "busy", f"{sessions.max_sessions} sessions live; close one",
                         **{"Retry-After": "5"})
        session = await sessions.open(task_id)
        return {"session_id": session.id,
                "observation": {"task_id": task_id, "tools": _tool_names(),
                                "diagnostics": _summary(session.recorder.diag)},
                "state": session.state()}

    @app.post("/step")
    async def step(request: Request) -> Any:
        data, refused = await json_or_error(request, max_body)
        if refused is not None:
            return refused
        if not isinstance(data, dict):
            return error(400, "bad_request", "the body must be a JSON object")
        session = sessions.live.get(str(data.get("session_id")))
        if session is None:
            return error(404, "unknown_session", "no such session (closed, or reclaimed "
                         "when idle)")
        async with session.lock:
            if session.recorder.done:
                return error(409, "episode_over", "the episode was submitted; reset")
            session.last_used = time.monotonic()
            observation = await session.recorder.step(data.get("action"))
            session.last_used = time.monotonic()
        return {"observation": observation, "reward": observation["reward"]["total"],
                "done": bool(observation["done"]), "state": session.state()}

    @app.get("/state/{session_id}")
    async def state(session_id: str) -> Any:
        session = sessions.live.get(session_id)
        if session is None:
            return error(404, "unknown_session", "no such session")
        return session.state()

    @app.delete("/sessions/{session_id}")
    async def close(session_id: str) -> Any:
        if not await sessions.close(session_id):
            return error(404, "unknown_session", "no such session")
        return {"closed": session_id}

    return app


def _tool_names() -> list[str]:
    from lanser.scoring.tools import TOOLS

    return [t["function"]["name"] for t in TOOLS]


def _summary(bundle: dict[str, Any]) -> dict[str, int]:
    from lanser.queries.ops import diagnostics_summary

    return diagnostics_summary(bundle["facts"]["files"])


__all__ = ["Session", "Sessions", "env_app"]
