"""From recorded bundles to the reward functional's states: one path, online and offline.

The episode recorder and ``lanser replay`` both build every state with
:func:`next_state` from the same bundles, so the numbers they compute cannot differ
by construction, only by a bundle differing (which ``--reexecute`` detects).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from lanser.findings import Finding, merge
from lanser.findings import from_json as findings_from_json
from lanser.rewards import ActionInfo, DiagnosticKey, Goal, State, TestCredit, advance

#: The envelope's ApplyResult status -> the functional's action status.
ENVELOPE_STATUS = {"applied": "ok", "refused": "refused", "rolled_back": "rolled_back"}


def diagnostic_keys(bundle: dict[str, Any]) -> tuple[DiagnosticKey, ...]:
    """The diagnostics of a whole-workspace ``diagnostics`` bundle, as identities."""
    return tuple(DiagnosticKey.from_json(d) for f in bundle["facts"]["files"]
                 for d in f["diagnostics"])


def test_credits(bundle: dict[str, Any]) -> tuple[TestCredit, ...]:
    """Per-test credit from a ``test`` bundle (the runner's hashed facts)."""
    return tuple(TestCredit.from_json(t) for t in bundle["facts"]["tests"])


def task_of(spec: dict[str, Any], base_diagnostics: dict[str, Any],
            base_tests: dict[str, Any] | None = None) -> Goal:
    """The functional's task: the header's task plus the base snapshot's diagnostics
    and, when the base was tested, its outcomes (the regression term, SPEC §3). Hidden
    tests (issue 16) are graded as fail-to-pass tests."""
    f2p = tuple(dict.fromkeys((*spec.get("fail_to_pass", ()), *spec.get("hidden_tests", ()))))
    task = Goal(diagnostic_keys(base_diagnostics), frozenset(spec.get("targets", ())),
                f2p, tuple(spec.get("pass_to_pass", ())))
    return task if base_tests is None else Goal.with_base_tests(task, test_credits(base_tests))


def run_integrity(bundle: dict[str, Any], task: Goal) -> tuple[Finding, ...]:
    """What a scored test bundle shows (SPEC §12): the runner's own findings plus the
    task's tests that did not run, or were xfailed or skipped by the candidate."""
    from lanser.rewards.integrity import run_findings

    return run_findings(test_credits(bundle), task,
                        findings_from_json(bundle["facts"].get("integrity")))


def base_state(base_diagnostics: dict[str, Any], base_tests: dict[str, Any] | None,
               task: Goal | None = None) -> State:
    return State(diagnostic_keys(base_diagnostics),
                 test_credits(base_tests) if base_tests is not None else (),
                 integrity=run_integrity(base_tests, task)
                 if base_tests is not None and task is not None else ())


def next_state(prev: State, info: ActionInfo, diagnostics: dict[str, Any],
               tests: dict[str, Any] | None, changed: list[str],
               deleted: list[str] | None = None, *, task: Goal | None = None,
               tree_findings: tuple[Finding, ...] = ()) -> State:
    """The state a step produced: fresh diagnostics, the tests of a *scored* run
    (None: the previous state's stand), changed and deleted paths, and what grading
    caught: ``tree_findings`` of this tree, and the run's (carried, like its
    credits, when no scored run was made)."""
    from lanser.rewards.integrity import TREE_KINDS

    if tests is not None and task is not None:
        ran = run_integrity(tests, task)
    else:
        ran = tuple(f for f in prev.integrity if f.kind not in TREE_KINDS)
    return advance(prev, info, diagnostics=diagnostic_keys(diagnostics),
                   tests=None if tests is None else test_credits(tests), changed=changed,
                   deleted=deleted if deleted is not None else (),
                   integrity=merge([*tree_findings, *ran]))


def tested_tree(bundle: dict[str, Any]) -> str | None:
    """The tree a test bundle's run saw (the runner snapshots just before its copy)."""
    snapshot = bundle.get("snapshot") or {}
    return snapshot.get("tree") if snapshot.get("kind") == "git-tree" else None


def recorded_info(action: Any, envelope: dict[str, Any] | None,
                  query: dict[str, Any] | None, recorded: ActionInfo) -> ActionInfo:
    """What the functional reads of a recorded step, rebuilt from what determines it.

    Replay scores this, not the step's ``info`` line: an action that does not parse
    is ``invalid``; an edit's status and reason are its envelope record's (no record:
    the diff was malformed, ``invalid``); a query's confidence is its bundle's target
    confidence (no bundle: it resolved to nothing, ``invalid``); a test run or submit
    is a clean untargeted action. Only what nothing recorded determines is taken
    from ``recorded``: an invalid action's reason, a range edit's confidence.
    """
    from lanser.episodes.actions import MUTATING, InvalidAction, parse_action

    try:
        parsed = parse_action(action)
    except InvalidAction:
        return ActionInfo("invalid", "invalid", recorded.reason)
    if parsed.kind in MUTATING:
        if envelope is None:
            return ActionInfo(parsed.kind, "invalid", recorded.reason)
        status = ENVELOPE_STATUS.get(envelope.get("status"), "invalid")
        return ActionInfo(parsed.kind, status, envelope.get("reason"),
                          recorded.confidence if parsed.targeted else None)
    if parsed.kind == "query":
        if query is None:
            return ActionInfo("query", "invalid", recorded.reason)
        target = query["request"].get("target")  # none for workspace-symbols
        return ActionInfo("query", confidence=None if target is None
                          else Fraction(target["confidence"]))
    return ActionInfo(parsed.kind)


def confidence_text(confidence: float) -> Fraction:
    """A resolver's float confidence as the exact number the reward uses (3 places,
    as bundles record it), so online and offline agree to the last bit."""
    return Fraction(f"{confidence:.3f}")
