"""Executors: where scoring jobs run. One interface; local processes here, Ray later.

An executor takes :class:`~lanser.scoring.worker.Job` records and returns futures of
:class:`~lanser.scoring.result.ScoreResult` (:class:`Executor`). The Scorer knows
nothing else of it, so a Ray executor (an actor per worker, each a
:class:`~lanser.scoring.worker.Worker`) slots in behind the same two methods.

:class:`LocalExecutor` runs N worker processes, each started as
``python -m lanser.scoring.process`` in its own session (not forked from a trainer
that holds threads and CUDA, not spawned through ``multiprocessing``, which would
re-import the trainer's ``__main__``), speaking pickled messages over two pipes. A
dispatcher thread hands each idle worker the first pending job of a task it has warm
(else the first pending job). A worker that dies, or runs past ``job_timeout``
(plus ``prepare_timeout`` when it had to prepare the task), is killed with its
process group (its language servers and test runs) and replaced; its job is retried
once on a fresh worker, then scored ``failed`` with reason ``scoring_failed``.
Results never depend on which worker scored what: every candidate starts from the
same reset workspace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from lanser.scoring.result import ScoreResult
from lanser.scoring.worker import Job, WorkerConfig


class Executor(Protocol):
    """Runs scoring jobs; what a Ray executor implements too."""

    def submit(self, job: Job) -> Future[ScoreResult]: ...

    def close(self) -> None: ...


@dataclass
class _Pending:
    job: Job
    future: Future[ScoreResult]
    attempts: int = 0


@dataclass
class _Slot:
    proc: subprocess.Popen[bytes]
    recv: Connection
    send: Connection
    ready: bool = False
    busy: _Pending | None = None
    deadline: float = 0.0
    warm: list[str] = field(default_factory=list)


class LocalExecutor:
    """``workers`` processes on this machine (module docstring)."""

    def __init__(self, config: WorkerConfig, workers: int = 1, *, job_timeout: float = 900.0,
                 prepare_timeout: float = 600.0, retries: int = 1) -> None:
        self.scratch = tempfile.mkdtemp(prefix="lanser-scorer-")
        self.config = WorkerConfig(**{**config.__dict__, "scratch": self.scratch})
        self.job_timeout = job_timeout
        self.prepare_timeout = prepare_timeout
        self.retries = retries
        self._pending: deque[_Pending] = deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = _pipe()
        self._closing = False
        self._slots = [self._start() for _ in range(max(1, workers))]
        self._thread = threading.Thread(target=self._run, name="lanser-scoring", daemon=True)
        self._thread.start()

    # -- public ----------------------------------------------------------------------

    def submit(self, job: Job) -> Future[ScoreResult]:
        future: Future[ScoreResult] = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("the executor is closed")
            self._pending.append(_Pending(job, future))
        self._wake()
        return future

    def worker_pids(self) -> list[int]:
        """The worker processes now (a replaced worker has a new pid)."""
        return [s.proc.pid for s in self._slots]

    def busy_pids(self) -> list[int]:
        return [s.proc.pid for s in self._slots if s.busy is not None]

    def close(self) -> None:
        with self._lock:
            self._closing = True
        self._wake()
        self._thread.join(timeout=120)
        for slot in self._slots:
            self._stop(slot)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workers -----------------------------------------------------------------------

    def _start(self) -> _Slot:
        down_r, down_w = _pipe()   # parent -> worker
        up_r, up_w = _pipe()       # worker -> parent
        proc = subprocess.Popen(
            [sys.executable, "-m", "lanser.scoring.process", str(down_r.fileno()),
             str(up_w.fileno())], pass_fds=(down_r.fileno(), up_w.fileno()),
            stdin=subprocess.DEVNULL, start_new_session=True)
        down_r.close()
        up_w.close()
        down_w.send(self.config)
        return _Slot(proc, up_r, down_w)

    def _stop(self, slot: _Slot, *, kill: bool = False) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                slot.send.send(None)
            try:
                slot.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill = True
        if kill:
            _kill_tree(slot.proc)
        for conn in (slot.recv, slot.send):
            with contextlib.suppress(OSError):
                conn.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send_bytes(b"x")

    # -- the dispatcher ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                idle = not self._pending and all(s.busy is None for s in self._slots)
                if self._closing and idle:
                    return
                self._assign()
            now = time.monotonic()
            busy = [s.deadline for s in self._slots if s.busy is not None]
            timeout = max(0.0, min(busy) - now) if busy else None
            ready = wait([self._wake_r, *(s.recv for s in self._slots)], timeout)
            if self._wake_r in ready:
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
            for index, slot in enumerate(list(self._slots)):
                if slot.recv in ready:
                    try:
                        message = slot.recv.recv()
                    except (EOFError, OSError):
                        self._replace(index, "the worker died")
                        continue
                    self._receive(slot, message)
            now = time.monotonic()
            for index, slot in enumerate(list(self._slots)):
                if slot.busy is not None and now > slot.deadline:
                    self._replace(index, "the worker ran past its time limit")

    def _assign(self) -> None:
        for slot in self._slots:
            if slot.busy is not None or not self._pending:
                continue
            pick = next((p for p in self._pending if p.job.instance_id in slot.warm),
                        self._pending[0])
            self._pending.remove(pick)
            warm = pick.job.instance_id in slot.warm
            slot.busy = pick
            slot.deadline = time.monotonic() + self.job_timeout + (
                0 if warm else self.prepare_timeout)
            if pick.job.instance_id in slot.warm:
                slot.warm.remove(pick.job.instance_id)
            slot.warm.append(pick.job.instance_id)
            del slot.warm[:-max(1, self.config.warm_tasks)]
            try:
                slot.send.send(pick.job)
            except OSError:
                pass  # a dead worker: its EOF is read next and the job retried

    def _receive(self, slot: _Slot, message: Any) -> None:
        kind, payload = message
        if kind == "ready":
            slot.ready = True
            return
        pending, slot.busy = slot.busy, None
        if pending is not None and pending.job.id == kind:
            pending.future.set_result(payload)

    def _replace(self, index: int, why: str) -> None:
        slot = self._slots[index]
        self._stop(slot, kill=True)
        self._slots[index] = self._start()
        pending = slot.busy
        if pending is None:
            return
        pending.attempts += 1
        if pending.attempts > self.retries:
            job = pending.job
            pending.future.set_result(ScoreResult.failed(
                job.instance_id, job.completion, "scoring_failed",
                f"{why} (tried {pending.attempts} times)", self.config.profile.hash))
        else:
            with self._lock:
                self._pending.appendleft(pending)


def _pipe() -> tuple[Connection, Connection]:
    r, w = os.pipe()
    return Connection(r, writable=False), Connection(w, readable=False)


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """The worker, everything it started (servers, test runs), and its session."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


__all__ = ["Executor", "LocalExecutor"]
