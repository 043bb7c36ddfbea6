"""The Ray executor (issue 21, extra ``ray``): the scoring workers as Ray actors.

The same two methods as :class:`~lanser.scoring.executor.LocalExecutor` (``submit``,
``close``), so the :class:`~lanser.scoring.scorer.Scorer`, ``lanser score`` and the
trainer do not know which one runs. One actor per worker slot, each owning a
:class:`~lanser.scoring.worker.Worker` (its warm grading workspaces and language
servers), placed by Ray across the cluster's nodes.

- **Repositories travel as git bundles** through Ray's object store: each task
  repository's base commits are bundled once (:func:`lanser.git.bundle`) and ``ray.put``; an
  actor fetches its tasks' objects into a clone of its own, so no node needs the
  driver's filesystem.
- **Locality first**: a job goes to an actor that already has its task warm, if that
  actor has room; else to the least loaded one (spill over).
- **Back-pressure**: at most ``max_in_flight`` jobs per actor (one scoring, the others
  queued at the actor); the rest wait here.
- **Faults**: a job whose actor dies (``RayActorError``: killed, its node gone) is
  retried once on a fresh actor that replaces it, then scored ``failed``
  (``scoring_failed``), as the local executor does. Every submitted job's future is
  resolved exactly once.
- Results are the same bytes as the local executor's; which node and actor scored a
  result is kept beside it (:meth:`RayExecutor.placement`), never in it.

Ray is imported when an executor is made, never by ``import lanser``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lanser import git
from lanser.scoring.result import ScoreResult
from lanser.scoring.worker import Job, Worker, WorkerConfig


class ScoringActor:
    """One worker slot on some node: a :class:`Worker` over local clones."""

    def __init__(self, config: WorkerConfig, bundles: dict[str, Any]) -> None:
        import ray

        self.scratch = scratch = Path(tempfile.mkdtemp(prefix="lanser-ray-"))
        local = {}
        for n, (repo, ref) in enumerate(sorted(bundles.items())):
            data = ray.get(ref[0]) if isinstance(ref, list) else ref
            local[repo] = str(git.unbundle(data, scratch / f"repo{n}"))
        tasks = {i: dataclasses.replace(t, repo_dir=local.get(t.repo_dir, t.repo_dir))
                 for i, t in config.tasks.items()}
        self.worker = Worker(dataclasses.replace(config, tasks=tasks, scratch=str(scratch)))
        # One candidate at a time, as in a local worker process: the jobs in flight
        # beyond the first wait here (they hide the driver's round trip), never sharing
        # a grading workspace.
        self.turn = asyncio.Lock()
        context = ray.get_runtime_context()
        self.where = {"node": context.get_node_id(), "actor": context.get_actor_id()}

    async def score(self, job: Job) -> tuple[ScoreResult, dict[str, str]]:
        async with self.turn:
            return await self.worker.score(job), self.where

    async def close(self) -> None:
        """The worker's servers stopped and this node's clones removed."""
        try:
            await self.worker.close()
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)


@dataclasses.dataclass
class _Pending:
    job: Job
    future: Future[ScoreResult]
    tries: int = 0
    #: the actor it was sent to (to replace a dead actor once, not once per job)
    actor: Any = None


@dataclasses.dataclass
class _Slot:
    actor: Any
    running: dict[Any, _Pending] = dataclasses.field(default_factory=dict)
    warm: set[str] = dataclasses.field(default_factory=set)


class RayExecutor:
    """``actors`` Ray actors scoring jobs (module docstring)."""

    def __init__(self, config: WorkerConfig, actors: int = 1, *, address: str | None = None,
                 max_in_flight: int = 2, retries: int = 1,
                 actor_options: dict[str, Any] | None = None) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False, include_dashboard=False)
        self._ray = ray
        commits: dict[str, list[str]] = defaultdict(list)
        for task in config.tasks.values():
            commits[task.repo_dir].append(task.base_commit)
        # One object per repository; wrapped in a list so actors receive the ref itself.
        self._bundles = {repo: [ray.put(git.bundle(Path(repo), found))]
                         for repo, found in commits.items()}
        self._config = config
        self._options = {"num_cpus": 1, **(actor_options or {})}
        self._remote = ray.remote(ScoringActor)
        self.max_in_flight = max(1, max_in_flight)
        self.retries = retries
        self._slots = [self._start() for _ in range(max(1, actors))]
        self._pending: deque[_Pending] = deque()
        self._placement: dict[int, dict[str, str]] = {}
        self._began = time.monotonic()
        self._per_node: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="lanser-ray", daemon=True)
        self._thread.start()

    def _start(self) -> _Slot:
        return _Slot(self._remote.options(**self._options).remote(self._config, self._bundles))

    # -- public ----------------------------------------------------------------------

    def submit(self, job: Job) -> Future[ScoreResult]:
        future: Future[ScoreResult] = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("the executor is closed")
            self._pending.append(_Pending(job, future))
        return future

    def placement(self, job_id: int) -> dict[str, str] | None:
        """Which node and actor scored job ``job_id`` (None: not yet scored)."""
        return self._placement.get(job_id)

    def per_node(self) -> dict[str, dict[str, float]]:
        """Progress per node: candidates scored there and their rate since the executor
        started (``{node_id: {"scored": n, "per_s": r}}``; observability, never hashed)."""
        elapsed = max(time.monotonic() - self._began, 1e-9)
        with self._lock:
            counts = dict(self._per_node)
        return {node: {"scored": n, "per_s": round(n / elapsed, 3)}
                for node, n in sorted(counts.items())}

    def actors(self) -> list[Any]:
        return [s.actor for s in self._slots]

    def in_flight(self) -> list[int]:
        """Jobs running now, per actor (never above ``max_in_flight``)."""
        with self._lock:
            return [len(s.running) for s in self._slots]

    def close(self) -> None:
        with self._lock:
            self._closing = True
        self._thread.join(timeout=60)
        for slot in self._slots:
            try:
                self._ray.get(slot.actor.close.remote(), timeout=30)
            except Exception:  # a dead actor has nothing to close
                pass
            self._ray.kill(slot.actor)

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the dispatcher --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                self._assign()
                refs = [ref for slot in self._slots for ref in slot.running]
                done_closing = self._closing and not refs and not self._pending
            if done_closing:
                return
            if not refs:
                time.sleep(0.01)
                continue
            ready, _ = self._ray.wait(refs, num_returns=1, timeout=0.1)
            for ref in ready:
                self._collect(ref)

    def _assign(self) -> None:
        while self._pending:
            pending = self._pending[0]
            slot = self._choose(pending.job.instance_id)
            if slot is None:
                return
            self._pending.popleft()
            ref = slot.actor.score.remote(pending.job)
            pending.actor = slot.actor
            slot.running[ref] = pending
            slot.warm.add(pending.job.instance_id)

    def _choose(self, instance_id: str) -> _Slot | None:
        free = [s for s in self._slots if len(s.running) < self.max_in_flight]
        if not free:
            return None
        warm = [s for s in free if instance_id in s.warm]
        return min(warm or free, key=lambda s: len(s.running))

    def _collect(self, ref: Any) -> None:
        from ray.exceptions import RayActorError

        with self._lock:
            index, slot = next((i, s) for i, s in enumerate(self._slots) if ref in s.running)
            pending = slot.running.pop(ref)
        try:
            result, where = self._ray.get(ref)
        except RayActorError:
            with self._lock:
                if self._slots[index].actor is pending.actor:  # first news of its death
                    self._slots[index] = _Slot(self._start().actor, slot.running)
            self._retry(pending, "its actor died")
            return
        except Exception as exc:  # any other failure: the job scores failed
            self._fail(pending, f"{type(exc).__name__}: {exc}")
            return
        with self._lock:
            self._placement[pending.job.id] = where
            self._per_node[where["node"]] += 1
        pending.future.set_result(result)

    def _retry(self, pending: _Pending, why: str) -> None:
        if pending.tries < self.retries:
            pending.tries += 1
            with self._lock:
                self._pending.appendleft(pending)
            return
        self._fail(pending, why)

    def _fail(self, pending: _Pending, why: str) -> None:
        job = pending.job
        pending.future.set_result(ScoreResult.failed(
            job.instance_id, job.completion, "scoring_failed", why,
            profile=self._config.profile.hash))
