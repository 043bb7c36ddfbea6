"""The Ray executor (issue 21) on a real two-node local Ray cluster.

Ray probes outside addresses when it starts, so the scenario (tests/ray_scenario.py)
runs inside a private network namespace with only loopback up (``unshare --net``,
then ``ip link set lo up``): nothing leaves the machine. Its nodes are started as users
start them (``ray start --head``, then ``ray start --address`` for a second node with its
own resource) in a private PID namespace too, which ends them with the scenario.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parent / "ray_scenario.py"


def _private_network() -> list[str]:
    pytest.importorskip("ray")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip (a private network namespace)")
    probe = subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("cannot make a network namespace here (needs root)")
    # Its own PID namespace too: the scenario is its init, so the nodes `ray start`
    # leaves running end with it (no `ray stop`, which would stop every Ray here).
    return ["unshare", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c",
            'ip link set lo up && exec "$0" "$@"']


@pytest.mark.parametrize("command", [["score", "t.jsonl", "c.jsonl", "-o", "r.jsonl"],
                                     ["tasks", "score", "t.jsonl", "p.jsonl"],
                                     ["serve", "reward", "t.jsonl"], ["train", "t.jsonl"]],
                         ids=["score", "tasks-score", "serve-reward", "train"])
def test_every_command_that_builds_a_scorer_takes_the_executor(cli, tmp_path, command):
    """--executor local|ray (and --ray-address) wherever a Scorer is built; anything else
    is a usage error before a task is read or a worker started."""
    json_flag = [] if command[0] == "serve" else ["--json"]  # a server has no --json
    result = cli([*command, "--executor", "slurm", "--ray-address", "auto", *json_flag],
                 cwd=tmp_path)
    assert result.code == 2, result.stderr
    assert "--executor slurm: expected local or ray" in result.stdout + result.stderr
    if json_flag:
        assert result.json["error"]["code"] == "usage"


@pytest.mark.slow
def test_ray_scores_the_same_bytes_survives_a_killed_actor_and_keeps_locality():
    proc = subprocess.run([*_private_network(), sys.executable, str(SCENARIO)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["same_bytes"] is True
    assert out["cluster"] == "ray start"          # a head and a joining node, as users do
    assert out["resources"] == ["head", "second"]  # each node with its own resource
    assert out["nodes"] == 2                      # placed across both "nodes"
    assert out["locality"] == 3                   # a warm task's jobs stay on its actor
    assert out["spill"] == 2                      # ... unless it is busy
    assert out["same_task_same_bytes"] is True
    assert out["killed"] == [True, "ok", True]    # mid-candidate; retried, same result
    assert out["killed_twice"] == ["failed", "scoring_failed"]  # one retry, then failed
    assert out["after_kills"] is True
    assert out["bound"] == [2, True]              # max_in_flight=2, sampled while scoring
    assert out["cli"][:2] == [0, True], out["cli"]
    assert out["cli_nodes"] == 3                  # per-node progress adds up
