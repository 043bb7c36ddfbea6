"""Property tests of the reward functional (rewards/SPEC.md §4, §5)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from lanser.rewards import (
    ActionInfo,
    DiagnosticKey,
    Profile,
    State,
    Task,
    TestCredit,
    episode_return,
    episode_rewards,
    load_profile,
    potentials,
    step_reward,
)

PROFILES = [load_profile(n) for n in ("default", "diagnostics-only", "tests-only")] + [
    Profile.from_mapping("targets", {"scope": "targets", "weights": {
        "diagnostics": "1/3", "tests": 2, "outcome": 1, "confidence": "0.5"},
        "severity": {"error": 1, "warning": "1/7"}, "tests": {"pass_to_pass": 0},
        "penalties": {"refused": 1, "invalid": "0.3"}}),
]
PATHS = ["a.py", "b.py", "c.py"]
NODEIDS = ["t.py::f1", "t.py::f2", "t.py::p1", "t.py::p2"]
TASK = Task(base_diagnostics=(DiagnosticKey("a.py", "error", "x", "m"),),
            targets=frozenset({"a.py", "b.py"}),
            fail_to_pass=("t.py::f1", "t.py::f2"), pass_to_pass=("t.py::p1", "t.py::p2"))

diag = st.builds(DiagnosticKey, st.sampled_from(PATHS),
                 st.sampled_from(["error", "warning", "information", "hint"]),
                 st.sampled_from(["x", "y"]), st.sampled_from(["m", "n"]))
credits = st.lists(st.integers(0, 1_000_000) | st.just(1_000_000), min_size=4, max_size=4)
confidence = st.fractions(0, 1, max_denominator=100)
profiles = st.sampled_from(PROFILES)
tasks = st.sampled_from([TASK, Task()])


def make_state(diags, ppm, changed, conf) -> State:
    tests = tuple(TestCredit(n, "passed" if c == 1_000_000 else "failed", c)
                  for n, c in zip(NODEIDS, ppm, strict=True))
    return State(tuple(diags), tests, frozenset(changed), conf)


states = st.builds(make_state, st.lists(diag, max_size=8), credits,
                   st.sets(st.sampled_from(PATHS)), confidence)


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
    task = Task(base_diagnostics=tuple(extra) + state.diagnostics)
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
