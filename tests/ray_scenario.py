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


def main() -> None:
    out: dict[str, object] = {}
    tmp = Path(tempfile.mkdtemp())
    tasks = [make_task(tmp / "repo", "calc-1"), make_task(tmp / "repo2", "calc-2")]
    items = [(tasks[0].instance_id, c) for c in GROUP]
    with Scorer(tasks, PROFILE, workers=1) as scorer:
        local = [r.to_json() for r in scorer.score_many(items)]
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "object_store_memory": 80_000_000})
    cluster.add_node(num_cpus=1, object_store_memory=80_000_000)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        config = WorkerConfig({t.instance_id: t for t in tasks}, load_profile(PROFILE))
        executor = RayExecutor(config, actors=2, max_in_flight=1)
        with Scorer(tasks, PROFILE, executor=executor) as scorer:
            remote = [r.to_json() for r in scorer.score_many(items)]
            out["same_bytes"] = remote == local
            out["nodes"] = len({executor.placement(i)["node"] for i in range(len(GROUP))})
            # Locality: calc-2 warms one actor; its next candidates go there while it
            # has room (one at a time: each waits for the last) ...
            first = executor.submit(Job(500, "calc-2", FIX)).result(timeout=300)
            home = executor.placement(500)["actor"]
            later = [executor.submit(Job(501 + n, "calc-2", FIX)).result(timeout=300)
                     for n in range(3)]
            out["locality"] = sum(executor.placement(501 + n)["actor"] == home
                                  for n in range(3))
            out["same_task_same_bytes"] = first.to_json() == later[0].to_json()
            # ... and spill over to the other actor when it is busy.
            both = [executor.submit(Job(600 + n, "calc-2", FIX)) for n in range(2)]
            [f.result(timeout=300) for f in both]
            out["spill"] = len({executor.placement(600 + n)["actor"] for n in range(2)})
            # Kill every actor while a candidate runs: retried once on a replacement.
            future = executor.submit(Job(1000, "calc-1", FIX))
            time.sleep(0.5)
            for actor in executor.actors():
                ray.kill(actor)
            result = future.result(timeout=300)
            out["killed"] = [result.status, result.to_json() == local[0]]
            out["bound"] = max(executor.in_flight()) <= 1
        # The CLI joins the running cluster.
        completions = tmp / "c.jsonl"
        completions.write_text("".join(json.dumps({"instance_id": "calc-1", "completion": c})
                                       + "\n" for c in GROUP[:3]))
        tasks_file = tmp / "tasks.jsonl"
        tasks_file.write_text("".join(json.dumps({
            "instance_id": t.instance_id, "repo": t.repo_dir, "base_commit": t.base_commit,
            "test_patch": t.test_patch, "FAIL_TO_PASS": list(t.fail_to_pass),
            "PASS_TO_PASS": list(t.pass_to_pass)}) + "\n" for t in tasks))
        cli = subprocess.run([sys.executable, "-m", "lanser", "score", str(tasks_file),
                              str(completions), "-o", str(tmp / "r.jsonl"), "--repo",
                              str(tmp / "repo"), "--profile", PROFILE, "--executor", "ray",
                              "--ray-address", cluster.address, "--workers", "2", "--json"],
                             capture_output=True, text=True, timeout=300, check=False)
        lines = [json.loads(x) for x in (tmp / "r.jsonl").read_text().splitlines()] \
            if cli.returncode == 0 else []
        out["cli"] = [cli.returncode, [x["reward"] for x in lines] ==
                      [x["reward"] for x in local[:3]], cli.stderr[-300:]]
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
