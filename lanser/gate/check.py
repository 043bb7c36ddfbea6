"""``lanser ci``: a change from base to head judged like one agent step, and gated.

:func:`check` observes both trees' diagnostics (:mod:`lanser.gate.observe`), judges
every head diagnostic new or unchanged by identity (:mod:`lanser.gate.identity`),
runs the impact-selected tests at head and the failing ones again at base
(:mod:`lanser.gate.testrun`), scores the change with the reward functional (the
state built from the same bundles as ``lanser reward``, the tests' from the gate's
runs: the base's full run behind the coverage map, the head's selected run with the
base outcomes of the tests it did not need to run), and checks the ``--fail-on``
conditions (:mod:`lanser.gate.policy`). The :class:`GateReport` it returns renders
as JSON, SARIF, Markdown and a terminal summary; JUnit comes from its test run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lanser.gate import observe as observing
from lanser.gate import testrun
from lanser.gate.identity import Comparison, Observed, compare
from lanser.gate.observe import End
from lanser.gate.policy import Breach, FailOn, judge
from lanser.gate.suppressions import Suppression
from lanser.gate.suppressions import added as added_suppressions
from lanser.rewards import ActionInfo, Profile, Reward, State, TestCredit, advance, step_reward
from lanser.workspace import Workspace


@dataclass(frozen=True)
class GateReport:
    """Everything ``lanser ci`` found; ``passed`` is the gate's verdict."""

    base: End
    head: End
    changed: tuple[str, ...]
    paths: tuple[str, ...]
    comparison: Comparison
    counts: dict[str, dict[str, int]]
    tests: testrun.TestReport | None
    reward: Reward
    profile: Profile
    server: dict[str, Any]
    fail_on: FailOn
    breaches: tuple[Breach, ...] = field(default_factory=tuple)
    suppressions: tuple[Suppression, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.breaches

    @property
    def new_diagnostics(self) -> tuple[Any, ...]:
        return self.comparison.new

    def to_json(self) -> dict[str, Any]:
        """Stable: no clock, no durations, no absolute path; sorted lists."""
        new = self.comparison.new
        return {
            "passed": self.passed,
            "gate": {"fail_on": self.fail_on.to_json(),
                     "breaches": [b.to_json() for b in self.breaches]},
            "base": self.base.to_json(), "head": self.head.to_json(),
            "changed": list(self.changed), "paths": list(self.paths),
            "server": self.server,
            "diagnostics": {
                "new": [f.to_json() for f in new],
                "new_counts": dict(sorted(Counter(f.diagnostic.severity for f in new).items())),
                "unchanged": len(self.comparison.findings) - len(new),
                "fixed": len(self.comparison.fixed),
                "base": self.counts["base"], "head": self.counts["head"]},
            "suppressions": [s.to_json() for s in self.suppressions],
            "tests": None if self.tests is None else self.tests.to_json(),
            "reward": {**self.reward.to_json(),
                       "profile": {"name": self.profile.name, "hash": self.profile.hash}},
        }


async def check(workspace: Workspace, *, base: str, head: str = "HEAD",
                fail_on: FailOn | None = None, tests: str = "impact", profile: Profile,
                spec: Any, timeout: float, test_timeout: float = 60.0,
                test_args: tuple[str, ...] = (), python: str | None = None,
                paths: Iterable[str] = ()) -> GateReport:
    """Judge the change from ``base`` to ``head`` (a revision, ``:worktree`` or
    ``:staged``). ``paths`` limits the diagnostics judged (and gated) to those files
    or folders; tests and the reward always look at the whole workspace.

    Raises :class:`~lanser.errors.UsageError` (exit 2) for a workspace outside git,
    an unknown revision or a bad ``tests`` mode; server and runner failures raise
    their own errors (exit 3). A gate that fails is a report, not an error.
    """
    from lanser.errors import UsageError

    if tests not in testrun.MODES:
        raise UsageError(f"--tests {tests}: one of {', '.join(testrun.MODES)}",
                         code="bad_tests_mode")
    if not workspace.is_git:
        raise UsageError(f"{workspace.root}: lanser ci needs a git repository (it judges "
                         "the change between two git trees)", code="not_git")
    fail_on = fail_on or FailOn()
    wanted = tuple(sorted({p.strip("/") for p in paths if p.strip("/")}))
    start, end = observing.resolve(workspace, base), observing.resolve(workspace, head)
    diagnostics_task = observing.observe(workspace, start, end, spec, timeout=timeout)
    tests_task = asyncio.to_thread(testrun.run, workspace, start.commit, end.commit,
                                   mode=tests, args=test_args, timeout=test_timeout,
                                   python=python)
    (before, after), report = await asyncio.gather(diagnostics_task, tests_task)
    renamed = observing.renames(workspace, start.tree, end.tree)
    comparison = compare(_within(before.observed, wanted, renamed),
                         _within(after.observed, wanted), renamed)
    from lanser.episodes.snapshots import tree_changes
    from lanser.episodes.states import diagnostic_keys, task_of

    changed, deleted = tree_changes(workspace, start.tree, end.tree)
    base_tests = None if report is None else tuple(_credit(t) for t in report.base.values())
    head_tests = None if report is None else tuple(_credit(t) for t in report.head.tests)
    b_state = State(diagnostic_keys(before.bundle), base_tests or ())
    functional_task = task_of({}, before.bundle)
    a_state = advance(b_state, ActionInfo("patch"), diagnostics=diagnostic_keys(after.bundle),
                      tests=head_tests, changed=changed, deleted=deleted)
    reward = step_reward(b_state, a_state, ActionInfo("patch"), profile, functional_task)
    new_by_severity = Counter(f.diagnostic.severity for f in comparison.new)
    silenced = tuple(s for s in added_suppressions(workspace, start.tree, end.tree)
                     if not wanted or _inside(s.path, wanted))
    breaches = judge(fail_on, new_by_severity=dict(new_by_severity),
                     new_failures=0 if report is None else len(report.of(testrun.NEW_FAILURE)),
                     reward=reward.total, suppressions=len(silenced),
                     lost_tests=0 if report is None else len(report.lost))
    from lanser.queries.ops import diagnostics_summary

    counts = {"base": diagnostics_summary(before.bundle["facts"]["files"]),
              "head": diagnostics_summary(after.bundle["facts"]["files"])}
    return GateReport(start, end, tuple(changed), wanted, comparison, counts, report, reward,
                      profile, before.bundle["server"], fail_on, breaches, silenced)


def _within(observed: Iterable[Observed], paths: tuple[str, ...],
            renamed: dict[str, str] | None = None) -> list[Observed]:
    if not paths:
        return list(observed)

    moved: dict[str, str] = renamed or {}
    return [o for o in observed
            if _inside(moved.get(o.diagnostic.path, o.diagnostic.path), paths)]


def _inside(path: str, paths: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in paths)


def _credit(outcome: Any) -> TestCredit:
    return TestCredit(outcome.nodeid, outcome.outcome,
                      None if outcome.credit is None else outcome.credit.ppm)


__all__ = ["GateReport", "check"]
