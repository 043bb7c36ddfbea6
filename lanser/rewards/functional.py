"""The process reward functional: potentials over states, penalties over actions.

Specified in ``rewards/SPEC.md``. Every number is a :class:`fractions.Fraction`, so
a reward computed online during an episode and one recomputed offline from the
recorded states are the same number, not merely close ones. Plain sync functions:
no I/O, no servers, no clocks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from lanser.findings import Finding
from lanser.findings import from_json as findings_from_json
from lanser.findings import to_json as findings_to_json
from lanser.rewards.profile import STATUSES, Profile, fraction_text

PPM = 1_000_000
COMPONENTS = ("diagnostics", "tests", "outcome", "confidence", "integrity", "safety")
#: Outcomes pytest counts as a pass that the code under test can produce on its own
#: (``pytest.xfail()`` in the code path): they count only where the base had them.
XFAIL_OUTCOMES = ("xfailed", "xpassed")


@dataclass(frozen=True, order=True, slots=True)
class DiagnosticKey:
    """A diagnostic's identity across edits: path, severity, code, message.

    Line and column are left out on purpose: an edit above a diagnostic shifts it
    without changing it, and must not look like "one fixed, one introduced".
    Identical keys are counted (a multiset), so two copies of one error are two.
    """

    path: str
    severity: str
    code: str
    message: str

    @classmethod
    def from_diagnostic(cls, diagnostic: Any) -> DiagnosticKey:
        """From a ``lanser.lsp.facts.Diagnostic`` (or anything shaped like one)."""
        return cls(diagnostic.path, diagnostic.severity, diagnostic.code or "",
                   diagnostic.message)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DiagnosticKey:
        return cls(data["path"], data["severity"], data.get("code") or "", data["message"])

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "severity": self.severity, "code": self.code,
                "message": self.message}


@dataclass(frozen=True)
class TestCredit:
    """One test's credit from the runner (``rewards/CREDIT.md``), in ppm.

    ``credit_ppm`` is None for a skipped test (not graded): left out of the run
    mean, and 0 where the task lists it (CREDIT.md §4). ``from_json`` reads the
    runner's per-test JSON (``TestOutcome.to_json``) directly.
    """

    __test__ = False  # not a pytest class
    nodeid: str
    outcome: str
    credit_ppm: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestCredit:
        ppm = data.get("credit_ppm")
        if ppm is None and data.get("credit") is not None:  # decimal string "0.666666"
            ppm = int(Fraction(str(data["credit"])) * PPM)
        return cls(data["nodeid"], data.get("outcome", ""), None if ppm is None else int(ppm))

    def to_json(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "outcome": self.outcome, "credit_ppm": self.credit_ppm}


@dataclass(frozen=True)
class Goal:
    """What an episode is judged against; fixed for the whole episode."""

    base_diagnostics: tuple[DiagnosticKey, ...] = ()
    targets: frozenset[str] = frozenset()
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    #: The base run's graded (not skipped) tests, those of them that passed, and
    #: those that xfailed/xpassed there (SPEC §3: the regression term; what a
    #: candidate cannot add). Empty when the base was not tested.
    base_graded: tuple[str, ...] = ()
    base_passing: frozenset[str] = frozenset()
    base_xfail: frozenset[str] = frozenset()

    @classmethod
    def with_base_tests(cls, task: Goal, tests: Iterable[TestCredit]) -> Goal:
        """``task`` knowing the base run's outcomes."""
        tests = tuple(tests)
        return cls(task.base_diagnostics, task.targets, task.fail_to_pass, task.pass_to_pass,
                   tuple(sorted(t.nodeid for t in tests if t.credit_ppm is not None)),
                   frozenset(t.nodeid for t in tests if (t.credit_ppm or 0) >= PPM),
                   frozenset(t.nodeid for t in tests if t.outcome in XFAIL_OUTCOMES))

    @property
    def universe(self) -> tuple[str, ...]:
        """The tests Phi_test grades: the listed ones, else the base run's graded ones."""
        listed = set(self.fail_to_pass) | set(self.pass_to_pass)
        return tuple(sorted(listed)) if listed else self.base_graded

    def to_json(self) -> dict[str, Any]:
        return {"base_diagnostics": [d.to_json() for d in sorted(self.base_diagnostics)],
                "targets": sorted(self.targets), "fail_to_pass": sorted(self.fail_to_pass),
                "pass_to_pass": sorted(self.pass_to_pass),
                "base_graded": list(self.base_graded),
                "base_passing": sorted(self.base_passing),
                "base_xfail": sorted(self.base_xfail)}


@dataclass(frozen=True)
class State:
    """What the functional sees of a workspace snapshot.

    ``changed`` is the set of paths whose content differs from the base snapshot (the
    ``touched`` scope), ``deleted`` those of them the snapshot no longer has (their
    diagnostics are held at the base's: SPEC §3); ``confidence`` the disambiguation
    confidence of the targeting in force (1 until an action targets through a selector).
    """

    diagnostics: tuple[DiagnosticKey, ...] = ()
    tests: tuple[TestCredit, ...] = ()
    changed: frozenset[str] = frozenset()
    confidence: Fraction = Fraction(1)
    deleted: frozenset[str] = frozenset()
    #: What grading caught in this state's tree (protected edits restored,
    #: suppressions stripped, outcomes missing, ...): priced by Phi_int (SPEC §12).
    integrity: tuple[Finding, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"diagnostics": [d.to_json() for d in sorted(self.diagnostics)],
                "tests": [t.to_json() for t in sorted(self.tests, key=lambda t: t.nodeid)],
                "changed": sorted(self.changed),
                "confidence": fraction_text(Fraction(self.confidence)),
                "deleted": sorted(self.deleted),
                "integrity": findings_to_json(self.integrity)}

    @classmethod
    def from_json(cls, data: dict[str, Any],
                  interned: dict[tuple[str, ...], DiagnosticKey] | None = None) -> State:
        """Back from :meth:`to_json`. Pass one ``interned`` dict across the states of
        an episode to share identical keys (consecutive states repeat most of them)."""
        cache = {} if interned is None else interned

        def key(d: dict[str, Any]) -> DiagnosticKey:
            t = (d["path"], d["severity"], d.get("code") or "", d["message"])
            found = cache.get(t)
            if found is None:
                found = cache[t] = DiagnosticKey(*t)
            return found

        return cls(tuple(key(d) for d in data.get("diagnostics", ())),
                   tuple(TestCredit.from_json(t) for t in data.get("tests", ())),
                   frozenset(data.get("changed", ())),
                   Fraction(str(data.get("confidence", "1"))),
                   frozenset(data.get("deleted", ())),
                   findings_from_json(data.get("integrity")))


@dataclass(frozen=True)
class ActionInfo:
    """How an action went through the safety envelope.

    ``status``: ``ok``, ``refused`` (``reason``: outside_workspace, stale,
    syntax_error, ...), ``rolled_back`` or ``invalid`` (malformed action).
    """

    kind: str = "noop"
    status: str = "ok"
    reason: str | None = None
    #: The disambiguation confidence of the selector the action targeted (None: it
    #: targeted nothing). It enters the reward through :func:`advance`, as state.
    confidence: Fraction | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"action status must be one of {STATUSES}")

    def to_json(self) -> dict[str, Any]:
        conf = None if self.confidence is None else fraction_text(Fraction(self.confidence))
        return {"kind": self.kind, "status": self.status, "reason": self.reason,
                "confidence": conf}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActionInfo:
        conf = data.get("confidence")
        return cls(data.get("kind", "noop"), data.get("status", "ok"), data.get("reason"),
                   None if conf is None else Fraction(str(conf)))


def advance(prev: State, action: ActionInfo, *, diagnostics: Iterable[DiagnosticKey],
            tests: Iterable[TestCredit] | None = None,
            changed: Iterable[str] | None = None,
            deleted: Iterable[str] | None = None,
            integrity: Iterable[Finding] | None = None) -> State:
    """The state after ``action``: fresh facts, and the confidence in force.

    A targeted action sets the confidence (even when refused: the agent still
    aimed at an ambiguous target); an untargeted one keeps the previous. Tests,
    changed and deleted paths default to the previous state's (no scored test
    run, no edit).
    """
    return State(tuple(diagnostics),
                 prev.tests if tests is None else tuple(tests),
                 prev.changed if changed is None else frozenset(changed),
                 prev.confidence if action.confidence is None else Fraction(action.confidence),
                 prev.deleted if deleted is None else frozenset(deleted),
                 prev.integrity if integrity is None else tuple(integrity))


def render(value: Fraction) -> dict[str, Any]:
    """An exact value for logs and replay, and a float for trainers.

    ``exact`` is ``"p/q"`` (or an integer string) and is what replay compares;
    ``decimal`` is rounded half-even to 9 places for people; ``float`` is
    ``float(value)``, the nearest double, deterministic given ``exact``.
    """
    scaled = round(value * 10**9)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**9)
    return {"exact": fraction_text(value), "decimal": f"{sign}{whole}.{frac:09d}",
            "float": float(value)}


@dataclass(frozen=True)
class Reward:
    """One step's reward: each weighted component and their sum."""

    components: dict[str, Fraction] = field(default_factory=dict)

    @property
    def total(self) -> Fraction:
        return sum(self.components.values(), Fraction(0))

    def __float__(self) -> float:
        return float(self.total)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reward:
        """Back from :meth:`to_json` through the exact strings, never the floats."""
        return cls({k: Fraction(v["exact"]) for k, v in data["components"].items()})

    def to_json(self) -> dict[str, Any]:
        return {"total": float(self.total), "total_exact": render(self.total)["exact"],
                "total_decimal": render(self.total)["decimal"],
                "components": {k: render(v) for k, v in sorted(self.components.items())}}


def _weight(keys: Iterable[DiagnosticKey], profile: Profile, paths: set[str] | None,
            held: frozenset[str] = frozenset()) -> Fraction:
    """Severity-weighted count of ``keys`` (only paths in ``paths`` when given, never
    the ``held`` ones).

    Counts integers per severity first and multiplies by the Fraction weights once:
    Fraction additions per diagnostic dominated replay time.
    """
    counts: Counter = Counter(
        k.severity for k in keys
        if (paths is None or k.path in paths) and not (held and k.path in held))
    return sum((profile.severity.get(sev, Fraction(0)) * n for sev, n in counts.items()),
               Fraction(0))


def scope_of(state: State, task: Goal, profile: Profile) -> set[str] | None:
    """The paths the diagnostic potential looks at in ``state`` (None: all)."""
    if profile.scope == "touched":
        return set(state.changed)
    if profile.scope == "targets":
        return set(task.targets)
    return None


def phi_diagnostics(state: State, task: Goal, profile: Profile) -> Fraction:
    """Phi_diag(s) = -sum over scope of (weight of s's diagnostics - the base's).

    Subtracting the base's weight per path makes a file entering the ``touched``
    scope contribute only what changed in it since the base, so pre-existing
    diagnostics never move the reward. A deleted path is held at the base's (left
    out of both sums): deleting a file does not fix its diagnostics, so it must not
    pay for their vanishing (SPEC §3).
    """
    scope = scope_of(state, task, profile)
    return -(_weight(state.diagnostics, profile, scope, state.deleted)
             - _weight(task.base_diagnostics, profile, scope, state.deleted))


def _mean(ids: Sequence[str], credit: dict[str, int]) -> Fraction | None:
    if not ids:
        return None
    return Fraction(sum(credit.get(i, 0) for i in ids), PPM * len(ids))


def graded_credit(state: State, task: Goal) -> dict[str, int]:
    """The credit Phi_test reads: the runner's, with a skipped test at 0 and an
    xfail/xpass the base did not have at 0 (the code under test can call
    ``pytest.skip()``/``pytest.xfail()``; SPEC §3)."""
    out = {}
    for t in state.tests:
        ppm = t.credit_ppm or 0
        if t.outcome in XFAIL_OUTCOMES and t.nodeid not in task.base_xfail:
            ppm = 0
        out[t.nodeid] = ppm
    return out


def regressions(state: State, task: Goal) -> tuple[str, ...]:
    """Graded tests that passed at the base and do not pass in ``state`` (missing,
    skipped and not-run ones included), sorted."""
    credit = graded_credit(state, task)
    return tuple(i for i in task.universe if i in task.base_passing and credit.get(i, 0) < PPM)


def phi_tests(state: State, task: Goal, profile: Profile) -> Fraction:
    """Phi_test(s) = the weighted mean credit of the graded tests, minus the
    regression term (SPEC §3).

    Mean: of the F2P and P2P means (weights ``fail_to_pass``/``pass_to_pass``); with
    no listed tests, of the base run's graded tests (a test the candidate adds is no
    part of the task; one it removes counts 0); without a base run either, of every
    graded test in the run. A listed test missing from the run counts 0.
    Regression: with ``m`` of the ``n`` tests that passed at the base no longer
    passing, ``rho * ([m > 0] + m / n)``: the first break costs ``rho`` (>= 1 by
    default: more than any gain the mean can give), each further one ``rho / n``.
    """
    credit = graded_credit(state, task)
    parts = [(profile.fail_to_pass, _mean(sorted(set(task.fail_to_pass)), credit)),
             (profile.pass_to_pass, _mean(sorted(set(task.pass_to_pass)), credit))]
    parts = [(w, m) for w, m in parts if m is not None and w > 0]
    if parts:
        total_w = sum((w for w, _ in parts), Fraction(0))
        mean = sum((w * m for w, m in parts), Fraction(0)) / total_w
    elif task.fail_to_pass or task.pass_to_pass:
        mean = Fraction(0)
    elif task.base_graded:
        mean = _mean(task.base_graded, credit) or Fraction(0)
    else:
        graded = sorted(t.nodeid for t in state.tests if t.credit_ppm is not None)
        mean = _mean(graded, credit) or Fraction(0)
    passing = [i for i in task.universe if i in task.base_passing]
    broken = len(regressions(state, task))
    if not broken or not profile.regression:
        return mean
    return mean - profile.regression * (1 + Fraction(broken, len(passing)))


def phi_integrity(state: State, profile: Profile) -> Fraction:
    """Phi_int(s) = -sum over findings of price(kind) * count (SPEC §12)."""
    return -sum((profile.integrity.get(f.kind, Fraction(0)) * f.count
                 for f in state.integrity), Fraction(0))


def resolved(state: State, task: Goal) -> bool:
    """Every listed test passes (credit 1 000 000); false when none are listed."""
    listed = set(task.fail_to_pass) | set(task.pass_to_pass)
    credit = graded_credit(state, task)
    return bool(listed) and all(credit.get(i, 0) >= PPM for i in listed)


def potentials(state: State, task: Goal, profile: Profile) -> dict[str, Fraction]:
    """The unweighted potentials of a state."""
    return {"diagnostics": phi_diagnostics(state, task, profile),
            "tests": phi_tests(state, task, profile),
            "outcome": Fraction(int(resolved(state, task))),
            "confidence": Fraction(state.confidence) - 1,
            "integrity": phi_integrity(state, profile)}


def step_reward(prev_state: State, next_state: State, action: ActionInfo,
                profile: Profile, task: Goal = Goal()) -> Reward:
    """r = sum_k w_k (Phi_k(next) - Phi_k(prev)) - penalty(action status).

    Components are potential differences, so a trajectory's sum telescopes and a
    no-op step (same state, status ok) scores exactly 0; the safety term is a
    penalty that is 0 for a clean action and never positive, so it cannot be farmed.
    """
    return _reward(potentials(prev_state, task, profile),
                   potentials(next_state, task, profile), action, profile)


def _reward(before: dict[str, Fraction], after: dict[str, Fraction], action: ActionInfo,
            profile: Profile) -> Reward:
    comps = {k: profile.weights.get(k, Fraction(1)) * (after[k] - before[k]) for k in before}
    comps["safety"] = -profile.penalty(action.status, action.reason)
    return Reward(comps)


def episode_rewards(states: Sequence[State], actions: Sequence[ActionInfo],
                    profile: Profile, task: Goal = Goal()) -> list[Reward]:
    """Step rewards of a trajectory s_0 a_0 s_1 ... (``len(states) == len(actions)+1``)."""
    if len(states) != len(actions) + 1:
        raise ValueError("a trajectory has one more state than actions")
    # Each state's potentials are computed once, not once as "next" and again as "prev".
    phis = [potentials(s, task, profile) for s in states]
    return [_reward(phis[i], phis[i + 1], actions[i], profile) for i in range(len(actions))]


def episode_return(rewards: Iterable[Reward]) -> Reward:
    """The componentwise sum of step rewards: what GRPO/RLOO trainers consume."""
    totals: Counter = Counter({k: Fraction(0) for k in COMPONENTS})
    for r in rewards:
        for k, v in r.components.items():
            totals[k] += v
    return Reward(dict(totals))
