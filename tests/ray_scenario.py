"""The Ray executor on a real two-node local cluster, run by tests/test_scoring_ray.py
inside a private network namespace (loopback only). Prints one JSON object.

Local vs Ray results byte for byte, both nodes used, locality (a task's second group
lands on the actors that have it warm), an actor killed mid-candidate (the job is
retried on its replacement and scores what the local executor scored), the
back-pressure bound, and a `lanser score --executor ray` run joining the cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ray
from ray.cluster_utils import Cluster
from scoring_repo import FIX, GROUP, make_task

from lanser.rewards import load_profile
from lanser.scoring import Scorer
from lanser.scoring.ray_executor import RayExecutor
from lanser.scoring.worker import Job, WorkerConfig

PROFILE = "diagnostics-only"


PORT = 6390
NODE = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=100000000"]


def start_cluster() -> tuple[str, Cluster | None]:
    """A head and a second node, each with its own custom resource. Inside a private PID
    namespace (this process is its init, so the kernel ends every node with it) they are
    started as users start them, ``ray start --head`` and ``ray start --address``;
    elsewhere with ``ray.cluster_utils.Cluster`` (real GCS and raylets, shut down here)."""
    if os.getpid() != 1:
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "include_dashboard": False, "object_store_memory": 100_000_000,
            "resources": {"head": 1}})
        cluster.add_node(num_cpus=1, object_store_memory=100_000_000,
                         resources={"second": 1})
        return cluster.address, cluster
    ray_cli = str(Path(sys.executable).parent / "ray")
    address = f"127.0.0.1:{PORT}"
    for args in (["--head", f"--port={PORT}", '--resources={"head": 1}',
                  "--include-dashboard=false", "--disable-usage-stats"],
                 [f"--address={address}", '--resources={"second": 1}']):
        started = subprocess.run([ray_cli, "start", *args, *NODE], capture_output=True,
                                 text=True, timeout=120, check=False,
                                 env={**os.environ, "RAY_AUTH_MODE": "disabled"})
        if started.returncode != 0:
            raise RuntimeError(f"ray start {args[0]}: {started.stderr[-2000:]}")
    return address, None


def _until(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the scenario waited too long")
        time.sleep(0.01)


def main() -> None:
    out: dict[str, object] = {}
    tmp = Path(tempfile.mkdtemp())
    tasks = [make_task(tmp / "repo", "calc-1"), make_task(tmp / "repo2", "calc-2")]
    items = [(tasks[0].instance_id, c) for c in GROUP]
    with Scorer(tasks, PROFILE, workers=1) as scorer:
        local = [r.to_json() for r in scorer.score_many(items)]
    address, cluster = start_cluster()
    out["cluster"] = "ray start" if cluster is None else "cluster_utils"
    ray.init(address=address, log_to_driver=False)
    try:
        config = WorkerConfig({t.instance_id: t for t in tasks}, load_profile(PROFILE))
        # Two in flight per actor: one scores, one waits at the actor (never both on one
        # workspace: the group's bytes below say so).
        executor = RayExecutor(config, actors=2, max_in_flight=2)
        with Scorer(tasks, PROFILE, executor=executor) as scorer:
            # Back-pressure: the bound is sampled while the group is scored, not after.
            peaks: list[int] = []
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    peaks.append(max(executor.in_flight()))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            remote = [r.to_json() for r in scorer.score_many(items)]
            sampling.set()
            sampler.join()
            out["bound"] = [max(peaks), len(peaks) > 10]
            out["same_bytes"] = remote == local
            out["nodes"] = len({executor.placement(i)["node"] for i in range(len(GROUP))})
            out["resources"] = sorted(k for n in ray.nodes() if n["Alive"]
                                      for k in n["Resources"] if k in ("head", "second"))
            # Locality: calc-2 warms one actor; its next candidates go there while it
            # has room (one at a time: each waits for the last) ...
            first = executor.submit(Job(500, "calc-2", FIX)).result(timeout=300)
            home = executor.placement(500)["actor"]
            later = [executor.submit(Job(501 + n, "calc-2", FIX)).result(timeout=300)
                     for n in range(3)]
            out["locality"] = sum(executor.placement(501 + n)["actor"] == home
                                  for n in range(3))
            out["same_task_same_bytes"] = first.to_json() == later[0].to_json()
            # ... and spill over to the other actor when it is full (two in flight).
            three = [executor.submit(Job(600 + n, "calc-2", FIX)) for n in range(3)]
            [f.result(timeout=300) for f in three]
            out["spill"] = len({executor.placement(600 + n)["actor"] for n in range(3)})
            # Kill every actor while a candidate runs (sent, not returned): it is retried
            # once on a replacement and scores what the local executor scored ...
            def busy() -> list:
                return [a for a, n in zip(executor.actors(), executor.in_flight(),
                                          strict=True) if n]

            future = executor.submit(Job(1000, "calc-1", FIX))
            _until(lambda: len(busy()) == 1)
            ray.kill(busy()[0])
            mid = not future.done()
            result = future.result(timeout=300)
            out["killed"] = [mid, result.status, result.to_json() == local[0]]
            # ... and killed again on its retry, it scores failed (scoring_failed), once.
            future = executor.submit(Job(1001, "calc-1", FIX))
            _until(lambda: len(busy()) == 1)
            first_home = busy()[0]
            ray.kill(first_home)
            _until(lambda: len(busy()) == 1 and busy()[0] is not first_home)
            ray.kill(busy()[0])
            result = future.result(timeout=300)
            out["killed_twice"] = [result.status, result.reason]
            # The executor still scores after its actors were replaced.
            again = executor.submit(Job(1002, "calc-1", FIX)).result(timeout=300)
            out["after_kills"] = again.to_json() == local[0]
        # The CLI joins the running cluster.
        completions = tmp / "c.jsonl"
        completions.write_text("".join(json.dumps({"instance_id": "calc-1", "completion": c})
                                       + "\n" for c in GROUP[:3]))
        tasks_file = tmp / "tasks.jsonl"  # calc-1 only: --repo names its clone
        tasks_file.write_text("".join(json.dumps({
            "instance_id": t.instance_id, "repo": t.repo_dir, "base_commit": t.base_commit,
            "test_patch": t.test_patch, "FAIL_TO_PASS": list(t.fail_to_pass),
            "PASS_TO_PASS": list(t.pass_to_pass)}) + "\n" for t in tasks[:1]))
        cli = subprocess.run([sys.executable, "-m", "lanser", "score", str(tasks_file),
                              str(completions), "-o", str(tmp / "r.jsonl"), "--repo",
                              str(tmp / "repo"), "--profile", PROFILE, "--executor", "ray",
                              "--ray-address", address, "--workers", "2", "--json"],
                             capture_output=True, text=True, timeout=300, check=False)
        lines = [json.loads(x) for x in (tmp / "r.jsonl").read_text().splitlines()] \
            if cli.returncode == 0 else []
        nodes = json.loads(cli.stdout).get("nodes", {}) if cli.returncode == 0 else {}
        out["cli"] = [cli.returncode, [x["reward"] for x in lines] ==
                      [x["reward"] for x in local[:3]], cli.stdout[-500:] + cli.stderr[-300:]]
        out["cli_nodes"] = sum(n["scored"] for n in nodes.values())
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        # else: the nodes die with this PID namespace (its init is this process)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
