"""A scoring worker: one process, its own event loop, servers and grading workspaces.

Runs :func:`serve` on one end of a pipe: it receives :class:`Job` records, scores
each with the task's warm :class:`~lanser.scoring.grader.TaskGrader` (made on first
use, at most :attr:`WorkerConfig.warm_tasks` kept, the least recently used closed
first) and sends back ``(job id, ScoreResult)``. ``None`` stops it. A task that cannot
be prepared (its base not in the clone, a test_patch that does not apply) scores
``failed`` with the error's code; an error while scoring one candidate scores that
candidate ``scoring_failed`` and drops the task's workspace (the next candidate
rebuilds it), so one bad sample never stops the worker.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.errors import LanserError
from lanser.rewards import Profile
from lanser.scoring.result import ScoreResult
from lanser.scoring.tasks import ScoringTask


@dataclass(frozen=True)
class Job:
    id: int
    instance_id: str
    completion: str
    format: str = "auto"


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs, picklable (sent once, at its start)."""

    tasks: dict[str, ScoringTask]
    profile: Profile
    server: str | None = None
    timeout: float = 60.0
    test_timeout: float = 60.0
    warm_tasks: int = 4
    scratch: str | None = None
    env: dict[str, str] = field(default_factory=dict)


class Worker:
    """The graders of one process (the loop of :func:`serve`, usable in-process too)."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.scratch = Path(tempfile.mkdtemp(prefix="lanser-score-", dir=config.scratch))
        self.graders: OrderedDict[str, Any] = OrderedDict()

    async def grader(self, instance_id: str) -> Any:
        from lanser.scoring.grader import TaskGrader

        found = self.graders.get(instance_id)
        if found is not None:
            self.graders.move_to_end(instance_id)
            return found
        while len(self.graders) >= max(1, self.config.warm_tasks):
            _, old = self.graders.popitem(last=False)
            await self._drop(old)
        c = self.config
        grader = TaskGrader(c.tasks[instance_id], c.profile, scratch=self.scratch,
                            server=c.server, timeout=c.timeout, test_timeout=c.test_timeout)
        try:
            await grader.start()
        except BaseException:
            await self._drop(grader)
            raise
        self.graders[instance_id] = grader
        return grader

    async def _drop(self, grader: Any) -> None:
        try:
            await grader.close()
        finally:
            if grader.root.name == "ws":
                shutil.rmtree(grader.root.parent, ignore_errors=True)

    async def score(self, job: Job) -> ScoreResult:
        profile = self.config.profile.hash
        if job.instance_id not in self.config.tasks:
            return ScoreResult.failed(job.instance_id, job.completion, "unknown_task",
                                      f"no task {job.instance_id!r}", profile)
        try:
            grader = await self.grader(job.instance_id)
        except LanserError as exc:
            return ScoreResult.failed(job.instance_id, job.completion, exc.code,
                                      exc.message, profile)
        try:
            return await grader.score(job.completion, job.format)
        except LanserError as exc:
            self.graders.pop(job.instance_id, None)
            await self._drop(grader)
            return ScoreResult.failed(job.instance_id, job.completion, "scoring_failed",
                                      f"{exc.code}: {grader._scrub(exc.message)}", profile)

    async def close(self) -> None:
        while self.graders:
            _, grader = self.graders.popitem()
            await self._drop(grader)
        shutil.rmtree(self.scratch, ignore_errors=True)


def serve(recv: Any, send: Any, config: WorkerConfig) -> None:
    """A worker's main: jobs in on ``recv``, results out on ``send``, until ``None`` or EOF."""
    import os

    os.environ.update(config.env)
    asyncio.run(_serve(recv, send, config))


async def _serve(recv: Any, send: Any, config: WorkerConfig) -> None:
    worker = Worker(config)
    loop = asyncio.get_running_loop()
    try:
        send.send(("ready", None))
        while True:
            try:
                job = await loop.run_in_executor(None, recv.recv)
            except EOFError:
                break
            if job is None:
                break
            result = await worker.score(job)
            send.send((job.id, result))
    finally:
        await worker.close()


__all__ = ["Job", "Worker", "WorkerConfig", "serve"]
