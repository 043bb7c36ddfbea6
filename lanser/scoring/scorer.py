"""The Scorer: completions in, rewards out, at trainer speed.

::

    scorer = Scorer(load_tasks("tasks.jsonl", repo_dir="clone"), "default", workers=4)
    result = scorer.score("calc-1", completion)              # one ScoreResult
    results = scorer.score_group("calc-1", completions)       # a GRPO group, in order
    results = scorer.score_many([("calc-1", c1), ("calc-2", c2, "diff")])
    scorer.close()

Every call blocks until its results are in and returns them in the order given; the
jobs of concurrent calls (a server's requests) share the workers. The executor is
:class:`~lanser.scoring.executor.LocalExecutor` unless one is passed (a Ray one).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lanser.rewards import Profile, load_profile
from lanser.scoring.parse import FORMATS
from lanser.scoring.result import ScoreResult
from lanser.scoring.tasks import ScoringTask
from lanser.scoring.worker import Job, WorkerConfig


class Scorer:
    """Warm workers scoring completions against tasks (module docstring)."""

    def __init__(self, tasks: Iterable[Any], profile: Profile | str | Path = "default", *,
                 workers: int = 1, server: str | None = None, timeout: float = 60.0,
                 test_timeout: float = 60.0, warm_tasks: int = 4, job_timeout: float = 900.0,
                 repo_dir: str | Path | None = None, executor: Any = "local",
                 ray_address: str | None = None) -> None:
        listed = [t if isinstance(t, ScoringTask) else ScoringTask.of(t, repo_dir or ".")
                  for t in tasks]
        self.tasks = {t.instance_id: t for t in listed}
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self.config = WorkerConfig(self.tasks, self.profile, server, timeout, test_timeout,
                                   warm_tasks)
        if executor in (None, "local"):
            from lanser.scoring.executor import LocalExecutor

            executor = LocalExecutor(self.config, workers, job_timeout=job_timeout)
        elif executor == "ray":  # extra 'ray': one actor per worker, anywhere in the cluster
            from lanser.scoring.ray_executor import RayExecutor

            executor = RayExecutor(self.config, workers, address=ray_address)
        elif isinstance(executor, str):
            raise ValueError(f"unknown executor {executor!r}: expected local or ray")
        self.executor = executor
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def _job(self, instance_id: str, completion: Any, fmt: str | None) -> Job:
        with self._lock:
            number = next(self._ids)
        text = completion if isinstance(completion, str) else _text_of(completion)
        return Job(number, str(instance_id), text, fmt or "auto")

    def score(self, instance_id: str, completion: Any, fmt: str = "auto") -> ScoreResult:
        return self.score_many([(instance_id, completion, fmt)])[0]

    def score_group(self, instance_id: str, completions: Sequence[Any],
                    fmt: str = "auto") -> list[ScoreResult]:
        return self.score_many([(instance_id, c, fmt) for c in completions])

    def score_many(self, items: Iterable[tuple[Any, ...]]) -> list[ScoreResult]:
        """Score ``(instance_id, completion[, format])`` items; results in input order.

        An unknown format is the caller's error (``ValueError``), raised before any
        job starts; everything about the completion itself is a scored result.
        """
        jobs = []
        for item in items:
            fmt = item[2] if len(item) > 2 and item[2] else "auto"
            if fmt not in FORMATS:
                raise ValueError(f"unknown completion format {fmt!r}: expected one of "
                                 f"{', '.join(FORMATS)}")
            jobs.append(self._job(item[0], item[1], fmt))
        futures = [self.executor.submit(j) for j in jobs]
        return [f.result() for f in futures]

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text_of(completion: Any) -> str:
    """A chat completion (TRL's conversational format: a list of messages) as text:
    the last assistant message's content, its tool calls kept as JSON."""
    import json

    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, list):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                if message.get("tool_calls"):
                    return json.dumps({"tool_calls": message["tool_calls"]})
                content = message.get("content")
                return content if isinstance(content, str) else json.dumps(content)
    return "" if completion is None else str(completion)


__all__ = ["Scorer"]
