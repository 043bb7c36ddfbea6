"""Property tests of the reward functional (rewards/SPEC.md §4, §5)."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from lanser.rewards import (
    ActionInfo,
    DiagnosticKey,
    Goal,
    Profile,
    State,
    TestCredit,
    episode_return,
    episode_rewards,
    load_profile,
    potentials,
    step_reward,
)

PROFILES = [load_profile(n) for n in ("default", "diagnostics-only", "tests-only", "train")] + [
    Profile.from_mapping("targets", {"scope": "targets", "weights": {
        "diagnostics": "1/3", "tests": 2, "outcome": 1, "confidence": "0.5"},
        "severity": {"error": 1, "warning": "1/7"}, "tests": {"pass_to_pass": 0},
        "penalties": {"refused": 1, "invalid": "0.3"}}),
]
PATHS = ["a.py", "b.py", "c.py"]
NODEIDS = ["t.py::f1", "t.py::f2", "t.py::p1", "t.py::p2"]
TASK = Goal(base_diagnostics=(DiagnosticKey("a.py", "error", "x", "m"),),
            targets=frozenset({"a.py", "b.py"}),
            fail_to_pass=("t.py::f1", "t.py::f2"), pass_to_pass=("t.py::p1", "t.py::p2"))

diag = st.builds(DiagnosticKey, st.sampled_from(PATHS),
                 st.sampled_from(["error", "warning", "information", "hint"]),
                 st.sampled_from(["x", "y"]), st.sampled_from(["m", "n"]))
credits = st.lists(st.integers(0, 1_000_000) | st.just(1_000_000), min_size=4, max_size=4)
confidence = st.fractions(0, 1, max_denominator=100)
profiles = st.sampled_from(PROFILES)
#: TASK with a base run: f1, f2 failing, p1, p2 passing (the regression term is live)
TASK_BASE = Goal(TASK.base_diagnostics, TASK.targets, TASK.fail_to_pass, TASK.pass_to_pass,
                 base_graded=tuple(NODEIDS), base_passing=frozenset({"t.py::p1", "t.py::p2"}))
#: no listed tests: the base run's tests are the graded set
TASK_UNLISTED = Goal(base_graded=tuple(NODEIDS), base_passing=frozenset(NODEIDS[2:]))
tasks = st.sampled_from([TASK, Goal(), TASK_BASE, TASK_UNLISTED])


def make_state(diags, ppm, changed, conf, deleted=frozenset()) -> State:
    tests = tuple(TestCredit(n, "passed" if c == 1_000_000 else "failed", c)
                  for n, c in zip(NODEIDS, ppm, strict=True))
    # A deleted file is a changed one, and the server reports nothing for it.
    return State(tuple(d for d in diags if d.path not in deleted), tests,
                 frozenset(changed) | frozenset(deleted), conf, frozenset(deleted))


states = st.builds(make_state, st.lists(diag, max_size=8), credits,
                   st.sets(st.sampled_from(PATHS)), confidence,
                   st.sets(st.sampled_from(PATHS), max_size=1))


@st.composite
def improving_pair(draw):
    """(s, s') with s' componentwise no worse: sub-multiset of diagnostics, same
    scope, per-test credit not lower, confidence not lower."""
    diags = draw(st.lists(diag, max_size=8))
    keep = [d for d in diags if draw(st.booleans())]
    lo = draw(credits)
    hi = [draw(st.integers(c, 1_000_000)) for c in lo]
    changed = draw(st.sets(st.sampled_from(PATHS)))
    c0 = draw(confidence)
    c1 = draw(st.fractions(c0, 1, max_denominator=100))
    return make_state(diags, lo, changed, c0), make_state(keep, hi, changed, c1)


def _sub(draw, keys: list[DiagnosticKey]) -> list[DiagnosticKey]:
    return [d for d in keys if draw(st.booleans())]


def _within(keys: list[DiagnosticKey], bound: list[DiagnosticKey]) -> list[DiagnosticKey]:
    """The multiset intersection of ``keys`` and ``bound``."""
    room = Counter(bound)
    out = []
    for d in keys:
        if room[d]:
            room[d] -= 1
            out.append(d)
    return out


@st.composite
def growing_pair(draw):
    """(task, s, s') with s' no worse per path while the scope grows and files go.

    s' changes more paths than s (they enter the ``touched`` scope); an entering path
    keeps at most what it has in both s and the base; a path s' deletes had at least
    its base diagnostics in s (so deleting it gives up no credit for fixing them);
    every other path keeps a sub-multiset of its diagnostics in s.
    """
    base = draw(st.lists(diag, max_size=6))
    diags = draw(st.lists(diag, max_size=8))
    changed = draw(st.sets(st.sampled_from(PATHS)))
    entering = draw(st.sets(st.sampled_from(PATHS))) - changed
    deletable = [p for p in PATHS
                 if not Counter(d for d in base if d.path == p)
                 - Counter(d for d in diags if d.path == p)]
    deleted = draw(st.sets(st.sampled_from(deletable))) if deletable else set()
    after: list[DiagnosticKey] = []
    for p in PATHS:
        mine = [d for d in diags if d.path == p]
        if p in deleted:
            continue
        if p in entering:
            mine = _within(mine, [d for d in base if d.path == p])
        after += _sub(draw, mine)
    lo = draw(credits)
    hi = [draw(st.integers(c, 1_000_000)) for c in lo]
    c0 = draw(confidence)
    c1 = draw(st.fractions(c0, 1, max_denominator=100))
    task = Goal(tuple(base), frozenset(draw(st.sets(st.sampled_from(PATHS)))),
                TASK.fail_to_pass, TASK.pass_to_pass)
    return (task, make_state(diags, lo, changed, c0),
            make_state(after, hi, changed | entering, c1, frozenset(deleted)))


@settings(max_examples=60)
@given(growing_pair(), profiles)
def test_improving_step_is_nonnegative_as_scope_grows_and_files_go(case, profile):
    task, worse, better = case
    assert step_reward(worse, better, ActionInfo("edit"), profile, task).total >= 0
    for status in ("ok", "refused", "rolled_back", "invalid"):
        assert step_reward(better, worse, ActionInfo("edit", status), profile,
                           task).total <= 0


@settings(max_examples=60)
@given(st.lists(diag, min_size=1, max_size=6), st.sampled_from(PATHS), profiles, credits)
def test_deleting_a_file_never_pays_for_its_base_diagnostics(base, gone, profile, ppm):
    """Deleting a file the agent never fixed scores exactly 0 on diagnostics, under
    every scope; so does adding errors to it and then deleting it, over both steps."""
    task = Goal(tuple(base), frozenset(PATHS))
    start = make_state(base, ppm, (), Fraction(1))
    worse = make_state([*base, DiagnosticKey(gone, "error", "new", "m")], ppm, {gone},
                       Fraction(1))
    deleted = make_state(base, ppm, (), Fraction(1), frozenset({gone}))
    assert step_reward(start, deleted, ActionInfo("edit"), profile,
                       task).components["diagnostics"] == 0
    trip = episode_rewards([start, worse, deleted], [ActionInfo("edit")] * 2, profile, task)
    assert episode_return(trip).components["diagnostics"] == 0
    assert trip[0].components["diagnostics"] <= 0 <= trip[1].components["diagnostics"]


@settings(max_examples=30)
@given(st.lists(diag, min_size=1, max_size=6), st.sampled_from(PATHS))
def test_breaking_an_untouched_importer_costs_under_the_default_profile(base, broken):
    """The default scope sees a new error in a file the step did not change."""
    profile = load_profile("default")
    task = Goal(tuple(base))
    before = State(tuple(base), changed=frozenset({"lib.py"}))
    after = State((*base, DiagnosticKey(broken, "error", "import", "gone")),
                  changed=frozenset({"lib.py"}))
    assert broken not in after.changed
    assert step_reward(before, after, ActionInfo("edit"), profile, task).total < 0


@given(improving_pair(), profiles, tasks)
def test_improving_step_is_nonnegative(pair, profile, task):
    worse, better = pair
    assert step_reward(worse, better, ActionInfo("edit"), profile, task).total >= 0


@given(improving_pair(), profiles, tasks,
       st.sampled_from(["ok", "refused", "rolled_back", "invalid"]))
def test_worsening_step_is_nonpositive(pair, profile, task, status):
    worse, better = pair
    assert step_reward(better, worse, ActionInfo("edit", status), profile, task).total <= 0


@given(states, profiles, tasks)
def test_noop_scores_exactly_zero(state, profile, task):
    reward = step_reward(state, state, ActionInfo("query"), profile, task)
    assert reward.total == 0
    assert all(v == 0 for v in reward.components.values())


@given(st.lists(states, min_size=1, max_size=8), profiles, tasks)
def test_potential_components_telescope(trajectory, profile, task):
    actions = [ActionInfo("edit")] * (len(trajectory) - 1)
    ret = episode_return(episode_rewards(trajectory, actions, profile, task))
    first = potentials(trajectory[0], task, profile)
    last = potentials(trajectory[-1], task, profile)
    for k in ("diagnostics", "tests", "outcome", "confidence"):
        assert ret.components[k] == profile.weights[k] * (last[k] - first[k])
    assert ret.components["safety"] == 0


@given(states, states, profiles, tasks, st.integers(1, 5),
       st.sampled_from(["ok", "refused", "rolled_back", "invalid"]))
def test_repeating_and_undoing_cannot_farm(s, t, profile, task, n, status):
    """Going s->t->s any number of times earns at most 0 (exactly 0 when clean)."""
    trajectory = [s, t] * n + [s]
    actions = [ActionInfo("edit", status)] * (len(trajectory) - 1)
    total = episode_return(episode_rewards(trajectory, actions, profile, task)).total
    assert total <= 0
    if status == "ok":
        assert total == 0


@given(states, st.lists(diag, max_size=3), profiles)
def test_unchanged_base_diagnostics_do_not_move_reward(state, extra, profile):
    """Diagnostics present in the base, before and after, change nothing — also when
    their file enters the touched scope, and wherever their lines moved."""
    task = Goal(base_diagnostics=tuple(extra) + state.diagnostics)
    prev = State(state.diagnostics + tuple(extra), state.tests, frozenset(), state.confidence)
    nxt = State(tuple(extra) + state.diagnostics, state.tests, frozenset(PATHS),
                state.confidence)
    assert step_reward(prev, nxt, ActionInfo("edit"), profile, task).total == 0


@given(states, states, profiles, tasks)
def test_online_and_replay_agree_exactly(s, t, profile, task):
    online = step_reward(s, t, ActionInfo("edit"), profile, task)
    replayed = step_reward(State.from_json(s.to_json()), State.from_json(t.to_json()),
                           ActionInfo("edit"), profile, task)
    assert online == replayed
    assert online.to_json() == replayed.to_json()


@settings(max_examples=50)
@given(st.lists(diag, min_size=1, max_size=5), profiles)
def test_removing_a_diagnostic_never_lowers_reward(diags, profile):
    prev = State(tuple(diags), changed=frozenset(PATHS))
    nxt = State(tuple(diags[1:]), changed=frozenset(PATHS))
    assert step_reward(prev, nxt, ActionInfo("edit"), profile).total >= 0
    assert step_reward(nxt, prev, ActionInfo("edit"), profile).total <= 0


def test_penalties_are_priced_and_never_positive():
    profile = load_profile("default")
    s = State()
    for status, reason, expect in [("refused", "outside_workspace", "-1/2"),
                                   ("refused", "stale", "-1/10"),
                                   ("refused", "other", "-1/5"),
                                   ("rolled_back", None, "-1/5"),
                                   ("invalid", None, "-1/10")]:
        r = step_reward(s, s, ActionInfo("edit", status, reason), profile)
        assert r.components["safety"] == Fraction(expect)


BASE_PPM = [0, 0, 1_000_000, 1_000_000]  # TASK_BASE's base run


@settings(max_examples=200)
@given(credits, profiles, st.sampled_from([TASK_BASE, TASK_UNLISTED]))
def test_breaking_as_many_as_fixed_never_beats_the_noop(ppm, profile, task):
    """Issue 16 rule: breaking at least as many passing tests as it newly fixes scores
    at or below the no-op on tests + outcome, whatever partial credit the rest earn."""
    base = make_state([], BASE_PPM, set(), Fraction(1))
    after = make_state([], ppm, set(), Fraction(1))
    broken = sum(1 for n, c in zip(NODEIDS, ppm, strict=True)
                 if n in task.base_passing and c < 1_000_000)
    fixed = sum(1 for n, c in zip(NODEIDS, ppm, strict=True)
                if n not in task.base_passing and c == 1_000_000)
    r = step_reward(base, after, ActionInfo("edit"), profile, task)
    if broken and broken >= fixed:
        assert r.components["tests"] + r.components["outcome"] <= 0
    if broken and profile.weights["tests"]:
        # one broken test costs more than every failing test's partial credit can earn
        partial = make_state([], [999_999, 999_999, 1_000_000, ppm[3] if ppm[3] < 10**6
                                  else 0], set(), Fraction(1))
        assert step_reward(base, partial, ActionInfo("edit"), profile, task).total < 0


@settings(max_examples=100)
@given(st.lists(st.tuples(st.sampled_from(["protected_edit", "suppression_added",
                                            "early_exit", "outcome_missing"]),
                          st.integers(0, 3)), max_size=4), profiles)
def test_integrity_findings_never_pay_and_telescope(kinds, profile):
    """Phi_int is a potential: more findings never raise the reward, a round trip
    scores 0, and the component is the price of what was added."""
    from lanser.findings import Finding, merge

    clean = State()
    dirty = State(integrity=merge(Finding(k, n, ("x",)) for k, n in kinds))
    forth = step_reward(clean, dirty, ActionInfo("edit"), profile)
    back = step_reward(dirty, clean, ActionInfo("edit"), profile)
    assert forth.components["integrity"] <= 0
    assert forth.components["integrity"] + back.components["integrity"] == 0
    expect = sum((profile.integrity.get(f.kind, Fraction(0)) * f.count
                  for f in dirty.integrity), Fraction(0))
    assert forth.components["integrity"] == -expect


def test_xfail_or_skip_the_base_did_not_have_earns_nothing():
    """pytest.xfail()/skip() called from the code under test: a listed test that
    xfails now (and did not at the base) is not a pass."""
    profile = load_profile("default")
    base = State(tests=(TestCredit("t.py::f1", "failed", 200_000),))
    task = Goal(fail_to_pass=("t.py::f1",), base_graded=("t.py::f1",))
    for outcome, ppm in (("xfailed", 1_000_000), ("xpassed", 1_000_000), ("skipped", None)):
        after = State(tests=(TestCredit("t.py::f1", outcome, ppm),))
        assert step_reward(base, after, ActionInfo("edit"), profile, task).total < 0
    kept = Goal(fail_to_pass=("t.py::f1",), base_graded=("t.py::f1",),
                base_xfail=frozenset({"t.py::f1"}))
    after = State(tests=(TestCredit("t.py::f1", "xfailed", 1_000_000),))
    assert step_reward(base, after, ActionInfo("edit"), profile, kept).total > 0


def test_without_listed_tests_the_base_run_is_the_graded_set():
    """Deleting a failing test, or adding passing ones, never raises the reward."""
    profile = load_profile("default")
    task = Goal(base_graded=("a", "b"), base_passing=frozenset({"a"}))
    base = State(tests=(TestCredit("a", "passed", 10**6), TestCredit("b", "failed", 200_000)))
    deleted = State(tests=(TestCredit("a", "passed", 10**6),))
    padded = State(tests=(*base.tests, *(TestCredit(f"n{i}", "passed", 10**6)
                                         for i in range(9))))
    assert step_reward(base, deleted, ActionInfo("edit"), profile, task).total < 0
    assert step_reward(base, padded, ActionInfo("edit"), profile, task).total == 0


@settings(max_examples=200)
@given(credits, st.sampled_from([TASK_BASE, TASK_UNLISTED]),
       st.sampled_from(["invalid", "refused", "rolled_back"]))
def test_under_train_answering_nothing_never_beats_an_attempt_on_tests(ppm, task, status):
    """The train profile (one-shot training): a completion that is no patch, or one
    the envelope refuses, costs at least what any patch can lose on tests + outcome,
    so a policy cannot learn that saying nothing pays better than trying (issue 20)."""
    train = load_profile("train")
    base = make_state([], BASE_PPM, set(), Fraction(1))
    attempt = step_reward(base, make_state([], ppm, set(), Fraction(1)),
                          ActionInfo("edit"), train, task)
    nothing = step_reward(base, base, ActionInfo("edit", status, "other"), train, task)
    assert nothing.total <= attempt.components["tests"] + attempt.components["outcome"]
    # under default (priced for episodes, where the agent acts again) it can pay
    default = load_profile("default")
    assert step_reward(base, base, ActionInfo("edit", status, "other"), default,
                       task).total > -1
