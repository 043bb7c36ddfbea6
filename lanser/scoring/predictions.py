"""``lanser tasks score``: grade SWE-bench predictions against tasks, with lanser's reward.

A prediction is SWE-bench's record: ``instance_id``, ``model_patch`` (a unified diff),
``model_name_or_path``; a file of them is JSONL or one JSON list (or an object keyed
by instance id, as SWE-bench's harness also accepts). Each is scored by the
:class:`~lanser.scoring.scorer.Scorer` as a ``diff`` completion: the patch is applied
to the task's base through the safety envelope, the files it may not influence are
restored, the test_patch is laid over it, the listed tests run in the sandbox. One
output line per prediction: ``resolved``, the F2P/P2P outcomes, the partial credit,
the reward, and a ``reason`` when it could not apply (a malformed or inapplicable
patch is a scored failure, never a crash; an unknown instance is ``unknown_instance``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.errors import UsageError
from lanser.jsonio import loads_bounded, read_text_bounded
from lanser.scoring.result import ScoreResult
from lanser.scoring.scorer import Scorer
from lanser.scoring.tasks import ScoringTask


@dataclass(frozen=True)
class Prediction:
    instance_id: str
    model_patch: str
    model: str = ""


def read_predictions(path: str | Path) -> list[Prediction]:
    """Predictions from JSONL, a JSON list, or a JSON object keyed by instance id."""
    text = read_text_bounded(path, what="predictions file")
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and "\n{" not in stripped):
        data = loads_bounded(text, what=str(path))
        items = list(data.values()) if isinstance(data, dict) and "instance_id" not in data \
            else data if isinstance(data, list) else [data]
    else:
        items = [loads_bounded(line, what=f"{path}:{n}")
                 for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    out = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("instance_id"), str):
            raise UsageError(f"{path}: prediction {n} has no instance_id", code="bad_prediction")
        patch = item.get("model_patch")
        out.append(Prediction(item["instance_id"], patch if isinstance(patch, str) else "",
                              str(item.get("model_name_or_path") or "")))
    return out


def score_predictions(tasks: list[ScoringTask], predictions: list[Prediction], *,
                      profile: str = "default", workers: int = 1, timeout: float = 60.0,
                      test_timeout: float = 60.0, executor: str = "local",
                      ray_address: str | None = None
                      ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One record per prediction (module docstring), and the summary."""
    known = {t.instance_id for t in tasks}
    scored = [p for p in predictions if p.instance_id in known]
    with Scorer(tasks, profile, workers=workers, timeout=timeout,
                test_timeout=test_timeout, executor=executor,
                ray_address=ray_address) as scorer:
        results = scorer.score_many([(p.instance_id, p.model_patch, "diff") for p in scored])
    by_prediction = dict(zip((id(p) for p in scored), results, strict=True))
    lines = [_line(p, by_prediction.get(id(p))) for p in predictions]
    reasons = Counter(line["reason"] for line in lines if line["reason"])
    resolved = sum(1 for line in lines if line["resolved"])
    summary = {"predictions": len(lines), "resolved": resolved,
               "resolved_rate": round(resolved / len(lines), 4) if lines else 0.0,
               "errors": dict(sorted(reasons.items()))}
    return lines, summary


def _line(prediction: Prediction, result: ScoreResult | None) -> dict[str, Any]:
    base = {"instance_id": prediction.instance_id, "model_name_or_path": prediction.model}
    if result is None:
        return {**base, "resolved": False, "status": "failed", "reason": "unknown_instance",
                "reward": None, "components": None, "tests": None, "integrity": []}
    # tests: [passing, listed] of FAIL_TO_PASS and PASS_TO_PASS; the partial credit of
    # failing tests is in the reward's components (rewards/CREDIT.md).
    return {**base, "resolved": result.resolved, "status": result.status,
            "reason": result.reason, "reward": result.reward,
            "reward_exact": result.to_json()["reward_exact"],
            "components": result.components, "tests": result.tests,
            "integrity": list(result.integrity)}
