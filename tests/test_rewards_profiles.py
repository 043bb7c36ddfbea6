"""Profiles, rendering, adapters, and why the v1 formula is not ours."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lanser.errors import ConfigError
from lanser.rewards import (
    ActionInfo,
    DiagnosticKey,
    Profile,
    Reward,
    State,
    load_profile,
    profile_for_workspace,
    render,
    step_reward,
)
from lanser.rewards.adapters import (
    openrlhf_handler,
    openrlhf_payload,
    trl_reward_func,
    verl_compute_score,
)

#: Pinned: changing a shipped profile's numbers must be a deliberate, visible act.
HASHES = {
    "default": "sha256:1bae43fa793f6f420d949bb03b98226d0333127977a50d7dd7bae7ca297864d7",
    "diagnostics-only":
        "sha256:f0b9fbb81e078dd598343f0322c7af2a27ad7927d803c26ce01d3986750d91af",
    "tests-only": "sha256:c1a98dc0e53d58b594a09bbb2b060c88c7750b35bbfe99209b7d972588cf2f33",
    "train": "sha256:3fd90a16bf6040051d82b51f3bede625752e6395013674d57fd873bebda0a923",
}


@pytest.mark.parametrize("name", sorted(HASHES))
def test_profile_hashes_are_stable(name):
    profile = load_profile(name)
    assert profile.hash == HASHES[name]
    assert load_profile(name).hash == profile.hash
    assert profile.to_json()["hash"] == HASHES[name]


def test_profile_by_path_and_by_workspace_config(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('scope = "targets"\n[weights]\ndiagnostics = "0.5"\n')
    profile = load_profile(path)
    assert profile.name == "mine" and profile.scope == "targets"
    assert profile.weights["diagnostics"] == Fraction(1, 2)
    assert profile_for_workspace({"profile": str(path)}).hash == profile.hash
    assert profile_for_workspace({}).name == "default"
    assert profile_for_workspace({"profile": "x"}, override="tests-only").name == "tests-only"


def test_hash_ignores_name_and_key_order(tmp_path):
    a = Profile.from_mapping("a", {"weights": {"tests": 1, "outcome": "0.5"}})
    b = Profile.from_mapping("b", {"weights": {"outcome": "1/2", "tests": "1.0"}})
    assert a.hash == b.hash


@pytest.mark.parametrize("raw", [{"weights": {"tests": 0.5}}, {"weights": {"tests": "-1"}},
                                 {"scope": "galaxy"}, {"penalties": {"boom": 1}},
                                 {"weights": {"tests": "abc"}}])
def test_bad_profiles_are_config_errors(raw):
    with pytest.raises(ConfigError):
        Profile.from_mapping("bad", raw)


def test_unknown_profile_is_a_config_error():
    with pytest.raises(ConfigError):
        load_profile("no-such-profile")


def test_render_is_exact_and_deterministic():
    assert render(Fraction(1, 3)) == {"exact": "1/3", "decimal": "0.333333333",
                                      "float": 1 / 3}
    assert render(Fraction(-1, 10))["decimal"] == "-0.100000000"
    out = Reward({"tests": Fraction(1, 2), "safety": Fraction(-1, 5)}).to_json()
    assert out["total"] == 0.3 and out["total_exact"] == "3/10"


def v1_reward(prev_d: int, next_d: int, safe: int, conf: Fraction,
              a=Fraction(1), b=Fraction(1), c=Fraction(1, 10)) -> Fraction:
    """Lanser-CLI v1: r_t = a(D_{t-1} - D_t) + b S_t - c(1 - conf_t)."""
    return a * (prev_d - next_d) + b * safe - c * (1 - conf)


def test_v1_formula_breaks_its_own_monotonicity_and_ours_does_not():
    """A step that changes nothing, targeted with confidence 0.6, is punished by v1
    (strictly negative, and worse than a step that adds nothing but targets surely),
    while its S_t term rewards every safe no-op (positive: farmable by repetition)."""
    assert v1_reward(3, 3, safe=0, conf=Fraction(3, 5)) < 0
    assert v1_reward(3, 3, safe=1, conf=Fraction(1)) > 0  # farmable no-op
    profile = load_profile("default")
    s = State(diagnostics=(DiagnosticKey("a.py", "error", "x", "m"),),
              confidence=Fraction(3, 5))
    assert step_reward(s, s, ActionInfo("query"), profile).total == 0


def _score(*args, **kwargs):
    if args and args[0] == "boom":
        raise RuntimeError("boom")
    return Reward({"tests": Fraction(1, 2), "safety": Fraction(-1, 10)})


def test_trl_adapter_one_float_per_completion_and_survives_failures():
    f = trl_reward_func(_score, name="lanser")
    assert f.__name__ == "lanser"
    assert f(["p", "boom"], ["c1", "c2"], task=["t1", "t2"]) == [0.4, 0.0]


def test_verl_adapter_returns_score_and_components():
    compute_score = verl_compute_score(_score)
    out = compute_score("swe", "patch", {"f2p": []}, {"i": 1})
    assert out == {"score": 0.4, "safety": -0.1, "tests": 0.5, "diagnostics": 0.0,
                   "outcome": 0.0, "confidence": 0.0, "integrity": 0.0, "failed": 0.0}
    assert verl_compute_score(lambda *a: 1)("d", "s", None)["score"] == 1.0
    failed = verl_compute_score(_score, failure_score=-1.0)("boom", "s", None)
    assert failed["score"] == -1.0 and failed["failed"] == 1.0


def test_verl_adapter_gives_every_sample_the_same_keys():
    """verl gathers each key into one list per batch: success, a plain number and a
    failure must not differ in keys (nor carry strings that break its means)."""
    samples = [verl_compute_score(_score)("swe", "patch", None),
               verl_compute_score(lambda *a: Fraction(1, 3))("d", "s", None),
               verl_compute_score(_score)("boom", "s", None)]
    assert len({tuple(sorted(s)) for s in samples}) == 1
    assert all(isinstance(v, float) for s in samples for v in s.values())


def test_openrlhf_payload_and_handler():
    payload = openrlhf_payload([_score(), 1])
    assert payload == {"rewards": [0.4, 1.0], "scores": [0.4, 1.0],
                       "extra_logs": {"safety": [-0.1, 0.0], "tests": [0.5, 0.0]}}
    reply = openrlhf_handler(_score)({"query": ["q", "boom"], "prompts": ["p", "p"],
                                      "labels": ["l", "l"]})
    assert reply["rewards"] == [0.4, 0.0]
    assert openrlhf_handler(_score)({"query": ["q", "q"]})["rewards"] == [0.4, 0.4]


@pytest.mark.parametrize("request_", [
    {"query": ["q", "q"], "prompts": ["p"], "labels": ["l", "l"]},
    {"query": ["q"], "prompts": ["p"], "labels": ["l", "l"]},
    {"query": ["q", "q", "q"], "labels": ["l"]},
])
def test_openrlhf_handler_refuses_misaligned_requests(request_):
    """A short list would drop samples and shift every reward after it."""
    from lanser.errors import UsageError

    with pytest.raises(UsageError) as caught:
        openrlhf_handler(_score)(request_)
    assert caught.value.code == "bad_request" and "aligned" in caught.value.message


def test_worked_example_matches_the_spec():
    """default profile, touched scope: b.py has a base error; the agent edits b.py
    (it enters scope: 0), fixes a.py's base error (+1/10), adds a warning in b.py
    (-1/40), raises F2P credit from 0 to 1/2 (+1/4 over F and P), confidence 1 -> 3/5."""
    from lanser.rewards import Goal, TestCredit
    profile = load_profile("default")
    e_a = DiagnosticKey("a.py", "error", "x", "m")
    e_b = DiagnosticKey("b.py", "error", "y", "n")
    warn = DiagnosticKey("b.py", "warning", "w", "unused")
    task = Goal(base_diagnostics=(e_a, e_b), fail_to_pass=("f",), pass_to_pass=("p",))
    s0 = State((e_a, e_b), (TestCredit("f", "failed", 0), TestCredit("p", "passed", 10**6)),
               frozenset({"a.py"}))
    s1 = State((e_b, warn), (TestCredit("f", "failed", 500_000),
                             TestCredit("p", "passed", 10**6)),
               frozenset({"a.py", "b.py"}), Fraction(3, 5))
    r = step_reward(s0, s1, ActionInfo("edit"), profile, task)
    assert r.components == {"diagnostics": Fraction(1, 10) - Fraction(1, 40),
                            "tests": Fraction(1, 4), "outcome": 0,
                            "confidence": Fraction(-1, 25), "integrity": 0, "safety": 0}
    assert r.to_json()["total_exact"] == "57/200"


def test_runner_json_and_skipped_tests():
    """Per-test JSON as the runner writes it; a skipped test is out of the run mean
    but counts 0 where the task lists it."""
    from lanser.rewards import Goal, TestCredit, phi_tests
    rows = [{"nodeid": "a", "outcome": "passed", "credit": "1.000000", "credit_ppm": 1000000},
            {"nodeid": "b", "outcome": "skipped", "credit": None, "credit_ppm": None},
            {"nodeid": "c", "outcome": "failed", "credit": "0.200000"}]
    tests = tuple(TestCredit.from_json(r) for r in rows)
    assert [t.credit_ppm for t in tests] == [1_000_000, None, 200_000]
    profile = load_profile("tests-only")
    state = State(tests=tests)
    assert phi_tests(state, Goal(), profile) == Fraction(3, 5)
    assert phi_tests(state, Goal(fail_to_pass=("a", "b")), profile) == Fraction(1, 2)
    assert State.from_json(state.to_json()) == state


def test_hashes_and_returns_do_not_depend_on_hash_seed():
    """Sets and dicts inside the functional must never leak iteration order."""
    import os
    import subprocess
    import sys
    code = ("from bench.reward_replay import trajectory\n"
            "from lanser.rewards import load_profile, episode_rewards, episode_return\n"
            "p = load_profile('default'); t, s, a = trajectory(30)\n"
            "print(p.hash, episode_return(episode_rewards(s, a, p, t)).to_json())\n")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed},
                           cwd=__file__.rsplit("/tests/", 1)[0]).stdout
            for seed in ("0", "1", "4242")}
    assert len(outs) == 1


def test_advance_carries_confidence_and_rewards_round_trip():
    from lanser.rewards import advance
    profile = load_profile("default")
    s0 = State()
    targeted = ActionInfo("rename", "ok", confidence=Fraction(7, 10))
    s1 = advance(s0, targeted, diagnostics=())
    s2 = advance(s1, ActionInfo("query"), diagnostics=())
    assert s1.confidence == s2.confidence == Fraction(7, 10)
    assert ActionInfo.from_json(targeted.to_json()) == targeted
    r = step_reward(s0, s1, targeted, profile)
    assert r.components["confidence"] == Fraction(-3, 100)
    assert Reward.from_json(r.to_json()) == r
    assert step_reward(s1, s2, ActionInfo("query"), profile).total == 0
