"""One scored completion: the reward a trainer reads, and why it is that number."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from lanser.canonical import bytes_hash
from lanser.rewards import COMPONENTS, Reward
from lanser.rewards.functional import render

#: ``status``: scored after applying (``ok``), the completion did not fit the files
#: or held no edit (``invalid``), the envelope refused it (``refused``), or lanser
#: could not score it (``failed``: reward 0, not the model's doing).
STATUSES = ("ok", "invalid", "refused", "failed")


@dataclass(frozen=True)
class ScoreResult:
    """The reward of one completion on one task, with its evidence.

    ``to_json`` holds no clock, host or absolute path: the same completion on the
    same task under the same profile and server gives the same bytes, whichever
    worker scored it and in whatever order.
    """

    instance_id: str
    completion_sha256: str
    status: str
    reward_value: Reward = field(default_factory=Reward)
    reason: str | None = None
    detail: str = ""
    format: str | None = None
    fuzz: int = 0
    notes: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    integrity: tuple[dict[str, Any], ...] = ()
    resolved: bool = False
    tests: dict[str, Any] | None = None
    diagnostics: dict[str, int] | None = None
    profile: str = ""

    @property
    def reward(self) -> float:
        return float(self.reward_value.total)

    @property
    def components(self) -> dict[str, float]:
        return {k: float(self.reward_value.components.get(k, Fraction(0))) for k in COMPONENTS}

    def to_json(self) -> dict[str, Any]:
        exact = {k: render(self.reward_value.components.get(k, Fraction(0)))["exact"]
                 for k in COMPONENTS}
        return {"instance_id": self.instance_id,
                "completion": {"sha256": self.completion_sha256},
                "status": self.status, "reason": self.reason, "detail": self.detail,
                "format": self.format, "fuzz": self.fuzz, "notes": list(self.notes),
                "reward": self.reward, "reward_exact": render(self.reward_value.total)["exact"],
                "components": self.components, "components_exact": exact,
                "changed": list(self.changed), "integrity": list(self.integrity),
                "resolved": self.resolved, "tests": self.tests,
                "diagnostics": self.diagnostics, "profile": self.profile}

    @classmethod
    def failed(cls, instance_id: str, completion: str, reason: str, detail: str = "",
               profile: str = "") -> ScoreResult:
        return cls(instance_id, completion_hash(completion), "failed",
                   Reward({k: Fraction(0) for k in COMPONENTS}), reason, detail,
                   profile=profile)


def completion_hash(text: Any) -> str:
    data = text if isinstance(text, str) else repr(text)
    return bytes_hash(data.encode("utf-8", "surrogatepass"))


__all__ = ["STATUSES", "ScoreResult", "completion_hash"]
