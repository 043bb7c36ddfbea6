"""Offline replay throughput: score 1,000 recorded steps from their JSON states.

Builds a deterministic 1,000-step trajectory (a 200-file workspace, ~400 diagnostics
per state, 50 listed tests), serializes every state to JSON as an episode would
record it, then times parsing the states back and computing every step reward, and
checks the replayed numbers equal the online ones exactly. Target: well under 5 s.

    .venv/bin/python bench/reward_replay.py [--steps 1000] [--profile default]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from fractions import Fraction

from lanser.rewards import (
    ActionInfo,
    DiagnosticKey,
    Goal,
    State,
    TestCredit,
    episode_return,
    episode_rewards,
    load_profile,
)


def trajectory(steps: int, seed: int = 0) -> tuple[Goal, list[State], list[ActionInfo]]:
    rng = random.Random(seed)
    paths = [f"pkg/mod{i:03d}.py" for i in range(200)]
    nodeids = [f"tests/test_x.py::test_{i}" for i in range(50)]

    def diags(n: int) -> tuple[DiagnosticKey, ...]:
        return tuple(DiagnosticKey(rng.choice(paths), rng.choice(["error", "warning"]),
                                   f"r{rng.randrange(20)}", f"message {rng.randrange(50)}")
                     for _ in range(n))

    base = diags(400)
    task = Goal(base, frozenset(paths[:5]), tuple(nodeids[:10]), tuple(nodeids[10:]))
    states, actions = [State(base, tuple(TestCredit(n, "failed", 0) for n in nodeids))], []
    for _ in range(steps):
        prev = states[-1]
        d = list(prev.diagnostics)
        if d and rng.random() < 0.5:
            d.pop(rng.randrange(len(d)))
        else:
            d.extend(diags(1))
        tests = tuple(TestCredit(t.nodeid, t.outcome, rng.randrange(1_000_001))
                      if rng.random() < 0.1 else t for t in prev.tests)
        changed = prev.changed | {rng.choice(paths)}
        states.append(State(tuple(d), tests, changed, Fraction(rng.randrange(101), 100)))
        actions.append(ActionInfo("edit", rng.choice(["ok"] * 8 + ["refused", "invalid"])))
    return task, states, actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    profile = load_profile(args.profile)
    task, states, actions = trajectory(args.steps)
    online = episode_rewards(states, actions, profile, task)
    recorded = [json.dumps(s.to_json(), sort_keys=True) for s in states]

    start = time.perf_counter()
    interned: dict = {}
    replayed_states = [State.from_json(json.loads(line), interned) for line in recorded]
    parsed = time.perf_counter()
    replayed = episode_rewards(replayed_states, actions, profile, task)
    done = time.perf_counter()

    assert replayed == online, "replay must reproduce the online numbers exactly"
    total = episode_return(replayed).to_json()
    print(json.dumps({
        "steps": args.steps, "profile": profile.name, "profile_hash": profile.hash,
        "parse_s": round(parsed - start, 4), "score_s": round(done - parsed, 4),
        "replay_s": round(done - start, 4),
        "steps_per_s": round(args.steps / (done - start)),
        "return": total["total_exact"], "exact_match": True,
    }, indent=2))


if __name__ == "__main__":
    main()
