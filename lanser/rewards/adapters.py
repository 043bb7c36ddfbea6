"""Trainer adapters: shape lanser rewards the way TRL, verl and OpenRLHF expect.

Each adapter takes a scoring callable (injected, so this module imports no trainer
and starts nothing) and returns what the trainer calls. A score may be a
:class:`Reward` (its components become logs) or a plain number. A sample that
fails to score gets ``failure_score`` instead of killing the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from lanser.errors import UsageError
from lanser.rewards.functional import COMPONENTS, Reward

Score = Reward | Fraction | float | int
Scorer = Callable[..., Score]


def _total(score: Score) -> float:
    return float(score.total) if isinstance(score, Reward) else float(score)


def _logs(score: Score) -> dict[str, float]:
    if isinstance(score, Reward):
        return {k: float(v) for k, v in sorted(score.components.items())}
    return {}


def trl_reward_func(score: Scorer, *, name: str = "lanser_reward",
                    failure_score: float = 0.0) -> Callable[..., list[float]]:
    """A TRL ``reward_funcs`` entry: ``f(prompts, completions, **columns) -> [float]``.

    ``score(prompt, completion, **row)`` is called once per completion with that
    row's slice of every extra dataset column TRL passes as a keyword list.
    """
    def reward_func(prompts: Sequence[Any], completions: Sequence[Any],
                    **columns: Any) -> list[float]:
        out = []
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            row = {k: v[i] for k, v in columns.items()
                   if isinstance(v, (list, tuple)) and len(v) == len(completions)}
            try:
                out.append(_total(score(prompt, completion, **row)))
            except Exception:  # one bad sample must never kill a batch
                out.append(failure_score)
        return out

    reward_func.__name__ = name  # TRL logs rewards under the function's name
    return reward_func


def verl_compute_score(score: Scorer, *, failure_score: float = 0.0
                       ) -> Callable[..., dict[str, Any]]:
    """A verl ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

    Returns ``{"score", <each of COMPONENTS>, "failed"}``, all floats, with the same
    keys for every sample: verl gathers each extra key into one list per batch, so a
    key that only some samples have misaligns (or drops) the others' values. A plain
    number's components are 0.0; a sample that raised scores ``failure_score`` with
    ``failed`` 1.0.
    """
    def compute_score(data_source: str, solution_str: str, ground_truth: Any,
                      extra_info: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            result = score(data_source, solution_str, ground_truth, extra_info or {})
            total, logs, failed = _total(result), _logs(result), 0.0
        except Exception:  # one bad sample must never kill a batch
            total, logs, failed = float(failure_score), {}, 1.0
        return {"score": total, **{k: logs.get(k, 0.0) for k in COMPONENTS},
                "failed": failed}

    return compute_score


def openrlhf_payload(scores: Sequence[Score]) -> dict[str, Any]:
    """OpenRLHF remote reward server reply: ``rewards``, ``scores``, ``extra_logs``.

    ``extra_logs`` holds one list per component (aligned with ``rewards``), so the
    trainer can log each component separately.
    """
    totals = [_total(s) for s in scores]
    keys = sorted({k for s in scores for k in _logs(s)})
    logs = {k: [_logs(s).get(k, 0.0) for s in scores] for k in keys}
    return {"rewards": totals, "scores": list(totals), "extra_logs": logs}


def openrlhf_handler(score: Scorer, *, failure_score: float = 0.0
                     ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turn a request ``{"query": [...], "prompts": [...], "labels": [...]}`` into a reply.

    ``score(query, prompt, label)``; the HTTP server around it is someone else's.
    ``prompts`` and ``labels``, when given, must be as long as ``query``: a shorter
    list would silently drop samples and misalign every reward after it, so it is a
    :class:`~lanser.errors.UsageError` (code ``bad_request``) for the caller to report.
    """
    def handle(request: dict[str, Any]) -> dict[str, Any]:
        queries = list(request.get("query", []))
        prompts = list(request.get("prompts", [None] * len(queries)))
        labels = list(request.get("labels", [None] * len(queries)))
        if not len(prompts) == len(labels) == len(queries):
            raise UsageError(f"OpenRLHF request: {len(queries)} queries, {len(prompts)} "
                             f"prompts, {len(labels)} labels; they must be aligned",
                             code="bad_request")
        scores: list[Score] = []
        for q, p, label in zip(queries, prompts, labels, strict=True):
            try:
                scores.append(score(q, p, label))
            except Exception:
                scores.append(failure_score)
        return openrlhf_payload(scores)

    return handle
