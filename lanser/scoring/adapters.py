"""The Scorer shaped for trainers: TRL ``reward_funcs``, verl ``compute_score``, OpenRLHF.

Each adapter scores a whole batch in one :meth:`~lanser.scoring.Scorer.score_many`
call, so a GRPO group spreads over the workers. ``failure_score`` is what a sample
lanser could not score (status ``failed``) gets: ``None`` for TRL (it becomes NaN,
which TRL leaves out of the sums instead of teaching the policy a made-up 0), 0.0
where a trainer needs a number. Invalid and refused completions are scores, never
failures. Nothing here imports a trainer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lanser.rewards import COMPONENTS
from lanser.scoring.result import ScoreResult


def _value(result: ScoreResult, failure_score: float | None) -> float | None:
    return failure_score if result.status == "failed" else result.reward


def trl_reward_func(scorer: Any, *, id_column: str = "instance_id", fmt: str = "auto",
                    name: str = "lanser", failure_score: float | None = None,
                    log_components: bool = True) -> Callable[..., list[float | None]]:
    """A TRL ``reward_funcs`` entry reading the task id from the dataset's ``id_column``.

    TRL calls ``f(prompts=..., completions=..., completion_ids=..., **columns)`` with
    every other dataset column as a list aligned with ``completions`` (plain strings,
    or message lists in the conversational format). With ``log_components``, each
    component's batch mean goes to TRL's ``log_metric`` (``lanser/<component>``) when
    the trainer passes it.
    """
    def reward_func(prompts: Sequence[Any], completions: Sequence[Any],
                    **columns: Any) -> list[float | None]:
        ids = columns.get(id_column)
        if ids is None or len(ids) != len(completions):
            raise ValueError(f"lanser reward: the dataset needs an {id_column!r} column "
                             "(one task id per prompt)")
        results = scorer.score_many([(i, c, fmt) for i, c in zip(ids, completions,
                                                                 strict=True)])
        log = columns.get("log_metric")
        if log_components and callable(log) and results:
            for key in COMPONENTS:
                log(f"{name}/{key}", sum(r.components[key] for r in results) / len(results))
        return [_value(r, failure_score) for r in results]

    reward_func.__name__ = name  # TRL logs rewards/<name>/mean
    return reward_func


def _task_id(extra_info: Any, ground_truth: Any, id_key: str) -> str:
    if isinstance(extra_info, dict) and isinstance(extra_info.get(id_key), str):
        return extra_info[id_key]
    if isinstance(ground_truth, dict) and isinstance(ground_truth.get(id_key), str):
        return ground_truth[id_key]
    if isinstance(ground_truth, str):
        return ground_truth
    return ""


def _verl_dict(result: ScoreResult, failure_score: float) -> dict[str, Any]:
    """Same keys for every sample: verl gathers each into one list per batch."""
    value = _value(result, failure_score)
    return {"score": float(value if value is not None else failure_score),
            **{k: result.components[k] for k in COMPONENTS},
            "failed": 1.0 if result.status == "failed" else 0.0,
            "resolved": 1.0 if result.resolved else 0.0}


def verl_compute_score(scorer: Any, *, id_key: str = "instance_id", fmt: str = "auto",
                       failure_score: float = 0.0) -> Callable[..., dict[str, Any]]:
    """verl's ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

    The task id is ``extra_info[id_key]`` (else ``ground_truth[id_key]``, else a
    string ``ground_truth``). Returns a dict with ``score`` and the components.
    """
    def compute_score(data_source: Any = None, solution_str: str = "",
                      ground_truth: Any = None, extra_info: Any = None,
                      **_: Any) -> dict[str, Any]:
        task = _task_id(extra_info, ground_truth, id_key)
        return _verl_dict(scorer.score(task, solution_str, fmt), failure_score)

    return compute_score


def verl_batch_compute_score(scorer: Any, *, id_key: str = "instance_id", fmt: str = "auto",
                             failure_score: float = 0.0) -> Callable[..., list[dict[str, Any]]]:
    """verl's batch reward manager form: lists in, one dict per sample out."""
    def compute_score(data_sources: Sequence[Any], solution_strs: Sequence[str],
                      ground_truths: Sequence[Any], extra_infos: Sequence[Any],
                      **_: Any) -> list[dict[str, Any]]:
        tasks = [_task_id(e, g, id_key) for e, g in zip(extra_infos, ground_truths,
                                                         strict=True)]
        results = scorer.score_many([(t, s, fmt) for t, s in zip(tasks, solution_strs,
                                                                 strict=True)])
        return [_verl_dict(r, failure_score) for r in results]

    return compute_score


def openrlhf_reward(scorer: Any, request: dict[str, Any], *, fmt: str = "auto",
                    failure_score: float = 0.0) -> dict[str, Any]:
    """``POST /get_reward``: ``query`` (prompt + response), ``prompts``, ``labels``
    (the task ids) -> ``rewards``, ``scores``, ``extra_logs`` (one list per component).

    The completion is ``query`` minus its ``prompt`` prefix (the whole query when it
    does not start with the prompt). Raises ``ValueError`` for misaligned lists.
    """
    queries = request.get("query")
    prompts = request.get("prompts") or [""] * len(queries or [])
    labels = request.get("labels")
    if not isinstance(queries, list) or not isinstance(labels, list) or not isinstance(
            prompts, list) or not len(queries) == len(prompts) == len(labels):
        raise ValueError("'query', 'prompts' and 'labels' must be lists of one length "
                         "(labels: the task ids)")
    items = []
    for query, prompt, label in zip(queries, prompts, labels, strict=True):
        if not isinstance(query, str) or not isinstance(label, str) or not isinstance(
                prompt, str):
            raise ValueError("'query', 'prompts' and 'labels' must hold strings")
        completion = query[len(prompt):] if prompt and query.startswith(prompt) else query
        items.append((label, completion, fmt))
    results = scorer.score_many(items)
    rewards = [float(v if (v := _value(r, failure_score)) is not None else failure_score)
               for r in results]
    logs = {k: [r.components[k] for r in results] for k in COMPONENTS}
    logs["failed"] = [1.0 if r.status == "failed" else 0.0 for r in results]
    logs["resolved"] = [1.0 if r.resolved else 0.0 for r in results]
    return {"rewards": rewards, "scores": list(rewards), "extra_logs": logs}


__all__ = ["openrlhf_reward", "trl_reward_func", "verl_batch_compute_score",
           "verl_compute_score"]
