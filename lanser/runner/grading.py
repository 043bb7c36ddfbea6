"""SWE-bench style grading: fail-to-pass and pass-to-pass sets, resolved or not.

As in SWE-bench's harness, a listed test counts as passing when its outcome is
``passed`` or ``xfailed`` (we also accept ``xpassed``, which pytest itself reports as a
pass); anything else, a test missing from the run included, counts as failing. A task
is resolved when every test of both sets passes. Ratios are integers in parts per
million, and an empty set has ratio 1 (nothing of it fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.errors import UsageError
from lanser.runner.credit import PPM, Credit, run_credit
from lanser.runner.outcomes import TestOutcome
from lanser.runner.result import RunResult


@dataclass(frozen=True)
class TestLists:
    """A task's two test lists, as a task file (``--task``) gives them."""

    __test__ = False  # a record, not a pytest test class (its name starts with Test)

    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: str | Path) -> TestLists:
        """A JSON task file: ``FAIL_TO_PASS``/``PASS_TO_PASS`` (SWE-bench's names,
        lists or JSON-encoded lists) or ``f2p``/``p2p``."""
        from lanser.jsonio import load_json_bounded

        try:  # bounded, a regular file, no NaN, limited depth
            data = load_json_bounded(path, what="task")
        except UsageError as exc:
            if exc.code != "bad_json":
                raise
            raise UsageError(exc.message, code="bad_task") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path}: a task file holds a JSON object", code="bad_task")
        return cls(_ids(data, "FAIL_TO_PASS", "f2p", path), _ids(data, "PASS_TO_PASS", "p2p", path))


def _ids(data: dict[str, Any], name: str, short: str, path: Any) -> tuple[str, ...]:
    value = data.get(name, data.get(short, []))
    if isinstance(value, str):  # SWE-bench stores the lists JSON-encoded
        from lanser.jsonio import loads_bounded

        try:
            value = loads_bounded(value, what=f"{name} in {path}")
        except UsageError as exc:
            raise UsageError(f"{exc.message} (a list of node ids, JSON-encoded)",
                             code="bad_task") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{path}: {name} must be a list of node ids", code="bad_task")
    return tuple(value)


def grade(result: RunResult, f2p: list[str] | tuple[str, ...],
          p2p: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Resolved or not, with each set's pass ratio, failures and credit."""
    tests = result.by_id()
    sets = {name: _grade_set(ids, tests) for name, ids in (("f2p", f2p), ("p2p", p2p))}
    everything = [*f2p, *p2p]
    credit: Credit = run_credit([_credit_of(n, tests) for n in everything])
    return {"resolved": all(s["passed"] == s["total"] for s in sets.values()),
            **sets, "credit": credit.decimal, "credit_ppm": credit.ppm}


def _grade_set(ids: tuple[str, ...] | list[str], tests: dict[str, TestOutcome]) -> dict:
    passed, failing, missing = 0, [], []
    for nodeid in sorted(set(ids)):
        test = tests.get(nodeid) or _module_error(nodeid, tests)
        if test is not None and test.passing:
            passed += 1
        elif test is None:
            missing.append(nodeid)
        else:
            failing.append({"nodeid": nodeid, "outcome": test.outcome, "phase": test.phase})
    total = len(set(ids))
    return {"total": total, "passed": passed, "ratio_ppm": PPM * passed // total if total
            else PPM, "failing": failing, "missing": missing}


def _module_error(nodeid: str, tests: dict[str, TestOutcome]) -> TestOutcome | None:
    """A listed test whose module failed to collect takes that module's outcome."""
    module = nodeid.split("::", 1)[0]
    found = tests.get(module)
    return found if found is not None and found.phase == "collection" else None


def _credit_of(nodeid: str, tests: dict[str, TestOutcome]) -> Credit | None:
    test = tests.get(nodeid) or _module_error(nodeid, tests)
    if test is None:
        return Credit(0, {"stage": "missing"})
    return test.credit or Credit(0, {"stage": "skipped"})
