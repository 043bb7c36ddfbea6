"""The gate's test run: impact-selected tests at head, failures checked again at base.

``impact`` (the default): the base's coverage map (:func:`lanser.runner.run.cached_map`,
one full run of the base, kept under ``.lanser/impact/`` and shared with ``lanser test
--base``) selects the tests the change can have affected; only those run at head,
the others keep their base outcome. ``all`` runs the whole suite at head (the map
still gives the base outcomes). ``none`` runs nothing.

A test failing at head is run again at base (only the files holding such tests), so
an old failure (it failed at base too) is told from a new one (it passed at base, or
did not exist there) by a fresh run rather than by a map that may have been built
elsewhere, unless the map was built by this very call (its base run is that run).
A test whose module failed to collect at base failed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.runner.outcomes import TestOutcome
from lanser.runner.result import RunResult

MODES = ("impact", "all", "none")
#: ``TestVerdict.status`` values.
NEW_FAILURE, OLD_FAILURE, FIXED, PASSED, SKIPPED = (
    "new_failure", "old_failure", "fixed", "passed", "skipped")


@dataclass(frozen=True)
class TestVerdict:
    """One head test against the base: its outcome at both ends and what that means."""

    __test__ = False  # not a pytest class
    nodeid: str
    outcome: str
    base_outcome: str | None  #: None: the test did not exist at base
    status: str
    reused: bool = False  #: not run at head: impact selection kept its base outcome

    def to_json(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "outcome": self.outcome,
                "base_outcome": self.base_outcome, "status": self.status,
                "reused": self.reused}


@dataclass(frozen=True)
class TestReport:
    """The head run, the base outcomes it was judged against, and the verdicts."""

    __test__ = False
    mode: str
    head: RunResult
    base: dict[str, TestOutcome]
    verdicts: tuple[TestVerdict, ...]
    #: tests that passed at base and are gone, skipped or xfailed at head
    lost: tuple[str, ...] = ()

    def of(self, status: str) -> tuple[TestVerdict, ...]:
        return tuple(v for v in self.verdicts if v.status == status)

    @property
    def notes(self) -> dict[str, str]:
        """A word per failing test for JUnit: new or old failure."""
        words = {NEW_FAILURE: "new failure: it did not fail at base",
                 OLD_FAILURE: "old failure: it failed at base too"}
        return {v.nodeid: words[v.status] for v in self.verdicts if v.status in words}

    def to_json(self) -> dict[str, Any]:
        selection = self.head.selection
        return {"mode": self.mode, "counts": self.head.counts,
                "credit": self.head.credit.decimal,
                "new_failures": [v.nodeid for v in self.of(NEW_FAILURE)],
                "old_failures": [v.nodeid for v in self.of(OLD_FAILURE)],
                "fixed": [v.nodeid for v in self.of(FIXED)],
                "lost": list(self.lost),
                "selection": None if selection is None else
                {"changed": selection.get("changed", []), "full": selection.get("full"),
                 "reused": selection.get("skipped", 0)},
                "tests": [v.to_json() for v in self.verdicts]}


def run(workspace: Any, base_commit: str, head_commit: str, *, mode: str = "impact",
        args: tuple[str, ...] = (), timeout: float = 60.0, python: str | None = None
        ) -> TestReport | None:
    """Run the tests of ``head_commit`` and judge them against ``base_commit``."""
    if mode == "none":
        return None
    from lanser.runner import run_tests
    from lanser.runner.run import cached_map

    impact = cached_map(workspace, base_commit, args=args, timeout=timeout, python=python)
    head = run_tests(workspace, rev=head_commit, args=args, timeout=timeout, python=python,
                     select=impact if mode == "impact" else None)
    base = dict(impact.outcomes)
    failing = sorted(t.nodeid for t in head.tests if t.failing)
    if failing and not impact.fresh:  # a map built just now ran the base already
        base.update(_rerun_at_base(workspace, base_commit, failing, timeout, python))
    verdicts = tuple(_verdict(t, base) for t in head.tests)
    now = head.by_id()
    lost = tuple(sorted(
        n for n, o in base.items() if "::" in n and o.outcome in ("passed", "xpassed")
        and (n not in now or now[n].outcome in ("skipped", "xfailed"))))
    return TestReport(mode, head, base, verdicts, lost)


def _rerun_at_base(workspace: Any, base_commit: str, nodeids: list[str], timeout: float,
                   python: str | None) -> dict[str, TestOutcome]:
    """Fresh base outcomes of ``nodeids``: their files run at base (those it has)."""
    from lanser.episodes.snapshots import git
    from lanser.runner import run_tests

    listed = git(workspace.root, "ls-tree", "-r", "--name-only", "-z", base_commit)
    present = set(listed.split("\0"))
    files = sorted({n.split("::", 1)[0] for n in nodeids} & present)
    if not files:
        return {}
    result = run_tests(workspace, rev=base_commit, args=tuple(files), timeout=timeout,
                       python=python)
    found = result.by_id()
    out: dict[str, TestOutcome] = {}
    for nodeid in nodeids:
        if nodeid in found:
            out[nodeid] = found[nodeid]
            continue
        module = found.get(nodeid.split("::", 1)[0])  # the module failed to collect
        if module is not None and module.failing:
            out[nodeid] = TestOutcome(nodeid, module.outcome, module.phase, module.message
                                      ).with_credit()
    return out


def _verdict(test: TestOutcome, base: dict[str, TestOutcome]) -> TestVerdict:
    before = base.get(test.nodeid)
    if before is None and "::" in test.nodeid:  # a module that failed to collect at base
        module = base.get(test.nodeid.split("::", 1)[0])
        before = module if module is not None and module.failing else None
    was_failing = before is not None and before.failing
    if test.failing:
        status = OLD_FAILURE if was_failing else NEW_FAILURE
    elif test.outcome == "skipped":
        status = SKIPPED
    else:
        status = FIXED if was_failing else PASSED
    return TestVerdict(test.nodeid, test.outcome, None if before is None else before.outcome,
                       status, test.reused)


def junit(report: TestReport, path: str | Path) -> None:
    """The head run as JUnit XML, each failure saying whether it is new."""
    from lanser.runner.junit import write_junit

    write_junit(report.head, path, notes=report.notes)


__all__ = ["MODES", "TestReport", "TestVerdict", "junit", "run"]
