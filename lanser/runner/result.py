"""What one sandboxed pytest run found: :class:`RunResult`, its hashed facts and bundle.

The outcomes are sorted by node id; what was asked (:meth:`RunResult.request`) and
what was found (:meth:`RunResult.facts`) are hashed, while durations, timings and the
sandbox description stay in ``provenance``. :meth:`RunResult.from_bundle` reads a
``test`` bundle back, so grading and replay get the same numbers offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lanser.errors import UsageError
from lanser.findings import Finding
from lanser.findings import from_json as findings_from_json
from lanser.findings import to_json as findings_to_json
from lanser.runner.credit import Credit, run_credit
from lanser.runner.outcomes import TestOutcome
from lanser.runner.sandbox import Limits

if TYPE_CHECKING:
    from lanser.workspace import Workspace


@dataclass(frozen=True)
class RunResult:
    tests: tuple[TestOutcome, ...]
    exitstatus: int | None
    rev: str | None = None
    args: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    reruns: int = 0
    isolation: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    selection: dict[str, Any] | None = None
    #: identity of the snapshot tested, taken when the copy was made (see ``bundle``)
    snapshot: dict[str, Any] | None = None
    #: what grading caught (issue 16): protected files restored in the copy, tests the
    #: process died during or never reached, lines on the channel that were not ours
    integrity: tuple[Finding, ...] = ()
    #: the base tree protected files were restored from (None: not a grading run)
    protected_base: str | None = None

    @classmethod
    def from_bundle(cls, bundle: dict[str, Any]) -> RunResult:
        """The result a ``test`` bundle recorded, for offline grading and replay: the
        same ``grade`` and credit numbers as when it was made, without running anything."""
        request = bundle.get("request", {})
        if request.get("op") != "test":
            raise UsageError(f"not a test bundle (op {request.get('op')!r})",
                             code="malformed_bundle")
        tests = tuple(TestOutcome.from_json(t) for t in bundle["facts"]["tests"])
        limits = Limits(test_timeout=float(request.get("test_timeout") or 60),
                        memory_mb=int(request.get("memory_mb") or 4096))
        return cls(tests=tests, exitstatus=None, rev=request.get("rev"),
                   args=tuple(request.get("args") or ()), limits=limits,
                   reruns=int(request.get("reruns") or 0),
                   isolation=dict(bundle.get("provenance", {}).get("sandbox") or {}),
                   selection=request.get("selection"), snapshot=bundle.get("snapshot"),
                   integrity=findings_from_json(bundle["facts"].get("integrity")),
                   protected_base=request.get("protected_base"))

    @property
    def credit(self) -> Credit:
        return run_credit([t.credit for t in self.tests])

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for test in self.tests:
            counts[test.outcome] = counts.get(test.outcome, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def ok(self) -> bool:
        """Every test passed (skips aside) and there was at least one."""
        return bool(self.tests) and not any(t.failing for t in self.tests)

    @property
    def status(self) -> str:
        if not self.tests:
            return "no_tests"
        return "passed" if self.ok else "failed"

    def by_id(self) -> dict[str, TestOutcome]:
        return {t.nodeid: t for t in self.tests}

    def request(self) -> dict[str, Any]:
        """What was asked: hashed, so only what changes the outcomes."""
        out = {"args": list(self.args), "rev": self.rev, "reruns": self.reruns,
               "test_timeout": _decimal(self.limits.test_timeout),
               "memory_mb": self.limits.memory_mb,
               "selection": None if self.selection is None else
               {"base": self.selection.get("base"), "full": self.selection.get("full")}}
        if self.protected_base is not None:  # only grading runs: older hashes unchanged
            out["protected_base"] = self.protected_base
        return out

    def facts(self) -> dict[str, Any]:
        credit = self.credit
        out = {"tests": [t.to_json(volatile=False) for t in self.tests],
               "summary": {"status": self.status, "counts": self.counts,
                           "total": len(self.tests), "credit": credit.decimal,
                           "credit_ppm": credit.ppm, "evidence": credit.evidence}}
        if self.integrity:  # only when something was caught: older hashes unchanged
            out["integrity"] = findings_to_json(self.integrity)
        return out

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape: facts plus the unhashed details a human wants."""
        return {**self.facts(), "tests": [t.to_json() for t in self.tests],
                "request": self.request(), "sandbox": self.isolation,
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                "selection": self.selection, "exitstatus": self.exitstatus,
                "output_tail": self.output[-4000:]}

    def bundle(self, workspace: Workspace) -> dict[str, Any]:
        from lanser.bundles import make_bundle

        return make_bundle(workspace, op="test", request=self.request(), facts=self.facts(),
                           snapshot=self.snapshot, provenance={
                               "sandbox": self.isolation, "timings": self.timings,
                               "durations_ms": {t.nodeid: round(t.duration * 1000)
                                                for t in self.tests}})


def _decimal(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
