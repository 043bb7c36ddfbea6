"""From recorded bundles to the reward functional's states: one path, online and offline.

The episode recorder and ``lanser replay`` both build every state with
:func:`next_state` from the same bundles, so the numbers they compute cannot differ
by construction, only by a bundle differing (which ``--reexecute`` detects).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from lanser.rewards import ActionInfo, DiagnosticKey, State, Task, TestCredit, advance


def diagnostic_keys(bundle: dict[str, Any]) -> tuple[DiagnosticKey, ...]:
    """The diagnostics of a whole-workspace ``diagnostics`` bundle, as identities."""
    return tuple(DiagnosticKey.from_json(d) for f in bundle["facts"]["files"]
                 for d in f["diagnostics"])


def test_credits(bundle: dict[str, Any]) -> tuple[TestCredit, ...]:
    """Per-test credit from a ``test`` bundle (the runner's hashed facts)."""
    return tuple(TestCredit.from_json(t) for t in bundle["facts"]["tests"])


def task_of(spec: dict[str, Any], base_diagnostics: dict[str, Any]) -> Task:
    """The functional's task: the header's task plus the base snapshot's diagnostics."""
    return Task(diagnostic_keys(base_diagnostics), frozenset(spec.get("targets", ())),
                tuple(spec.get("fail_to_pass", ())), tuple(spec.get("pass_to_pass", ())))


def base_state(base_diagnostics: dict[str, Any], base_tests: dict[str, Any] | None) -> State:
    return State(diagnostic_keys(base_diagnostics),
                 test_credits(base_tests) if base_tests is not None else ())


def next_state(prev: State, info: ActionInfo, diagnostics: dict[str, Any],
               tests: dict[str, Any] | None, changed: list[str]) -> State:
    """The state a step produced: fresh diagnostics, tests when they ran, changed paths."""
    return advance(prev, info, diagnostics=diagnostic_keys(diagnostics),
                   tests=None if tests is None else test_credits(tests), changed=changed)


def confidence_text(confidence: float) -> Fraction:
    """A resolver's float confidence as the exact number the reward uses (3 places,
    as bundles record it), so online and offline agree to the last bit."""
    return Fraction(f"{confidence:.3f}")
