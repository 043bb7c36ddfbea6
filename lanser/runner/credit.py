"""Partial credit: how far a test (or a script) got, as an integer in parts per million.

The scheme is specified exactly in ``rewards/CREDIT.md``; this module is its only
implementation. Integers keep floats out of hashed content; :attr:`Credit.decimal`
is the exact decimal string (six places) and :attr:`Credit.value` the float for
trainers. Every credit carries its evidence: the stage reached and the counts used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PPM = 1_000_000
#: Credit of a test that stopped in each phase, before assertion credit.
STAGE_PPM = {"collection": 0, "setup": 100_000, "call": 200_000, "teardown": 900_000}
#: The share of credit that assertions passed in the call phase can add.
ASSERT_SPAN_PPM = 700_000
PASSING = ("passed", "xpassed", "xfailed")


@dataclass(frozen=True)
class Credit:
    ppm: int
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def decimal(self) -> str:
        return f"{self.ppm // PPM}.{self.ppm % PPM:06d}"

    @property
    def value(self) -> float:
        return self.ppm / PPM

    def to_json(self) -> dict[str, Any]:
        return {"ppm": self.ppm, "decimal": self.decimal, "evidence": self.evidence}


def assertion_fraction(asserts: dict[str, Any] | None) -> tuple[int, int]:
    """(numerator, denominator) of the assertion progress of a failed call.

    Counted over the *distinct static* asserts of the test function: ``p`` of them
    passed at least once, ``r`` never passed and are not the failing one:
    ``p / (p + 1 + r)``; the 1 is the check that failed. Each assert counts once, so
    calling the counter (or looping) cannot raise ``p`` past the number of asserts
    written: a loop whose one assert fails on its 10th iteration scores 1/2.
    """
    if not asserts:
        return 0, 1
    static = set(asserts.get("static", []))
    passed = static.intersection(asserts.get("static_passed", []))
    never = static - passed
    failing = asserts.get("failed_at")
    p = len(passed)
    r = len(never) - (1 if failing in never else 0)
    return p, p + 1 + r


def score_test(outcome: str, phase: str, asserts: dict[str, Any] | None = None,
                *, started: bool = True) -> Credit | None:
    """The credit of one test; ``None`` for a skip (it counts for nothing either way)."""
    if outcome == "skipped":
        return None
    if outcome in PASSING:
        return Credit(PPM, {"stage": "passed", "outcome": outcome})
    if not started:
        return Credit(0, {"stage": "not_run", "outcome": outcome})
    stage = STAGE_PPM.get(phase, 0)
    evidence: dict[str, Any] = {"stage": phase, "outcome": outcome, "stage_ppm": stage}
    if phase != "call":
        return Credit(stage, evidence)
    num, den = assertion_fraction(asserts)
    add = ASSERT_SPAN_PPM * num // den
    evidence.update(asserts_passed=num, asserts_counted=den, assert_ppm=add)
    if asserts:
        evidence["asserts_static"] = len(asserts.get("static", []))
    return Credit(stage + add, evidence)


def flaky_credit(credits: list[Credit | None]) -> Credit | None:
    """A flaky test earns its worst attempt: randomness must never raise a reward."""
    graded = [c for c in credits if c is not None]
    if not graded:
        return None
    worst = min(graded, key=lambda c: c.ppm)
    return Credit(worst.ppm, {"stage": "flaky", "attempts_ppm": [c.ppm for c in graded]})


def run_credit(credits: list[Credit | None]) -> Credit:
    """Mean credit of the graded (non-skipped) tests, rounded down; 0 with none."""
    graded = [c.ppm for c in credits if c is not None]
    if not graded:
        return Credit(0, {"graded": 0, "passing": 0})
    return Credit(sum(graded) // len(graded),
                  {"graded": len(graded), "passing": sum(1 for c in graded if c == PPM)})


def checkpoint_credit(reached: int, total: int, exit_ok: bool) -> Credit:
    """A script: completed top-level statements over their number; a clean exit is 1."""
    if exit_ok:
        return Credit(PPM, {"stage": "exited", "checkpoints": total, "reached": reached})
    ppm = PPM * reached // total if total else 0
    # a script that crashed after its last statement still did not exit cleanly
    ppm = min(ppm, PPM - 1)
    return Credit(ppm, {"stage": "crashed", "checkpoints": total, "reached": reached})
