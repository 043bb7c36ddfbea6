"""The Ray executor against the local one (issue 21): speed-up and overhead.

    unshare --net sh -c 'ip link set lo up && exec .venv/bin/python bench/ray_bench.py'

(Ray probes outside addresses when it starts: run it in a private network namespace.)
On the 200-file generated task of bench/scoring_bench.py (a hidden test_patch, one F2P
and one P2P test), a group of ``--group`` candidates with tests (the default profile):

- local executor, 1 worker; Ray, 1 actor: the overhead of Ray per candidate;
- Ray, 1 actor vs 2 actors on a two-node local cluster (one CPU each): the speed-up;
- whether the three give the same bytes.
Each side is warmed first (the task prepared, the server started) and then timed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scoring_bench import candidate, make_task

from lanser.rewards import load_profile
from lanser.scoring import Scorer
from lanser.scoring.worker import WorkerConfig


def timed(scorer: Scorer, task_id: str, group: list[str], warm: int) -> tuple[float, list]:
    scorer.score_group(task_id, [candidate(900 + n) for n in range(warm)])
    began = time.perf_counter()
    results = scorer.score_group(task_id, group)
    return time.perf_counter() - began, [json.dumps(r.to_json(), sort_keys=True)
                                         for r in results]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--group", type=int, default=16)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    import ray
    from ray.cluster_utils import Cluster

    from lanser.scoring.ray_executor import RayExecutor

    task = make_task(Path(tempfile.mkdtemp()) / "ws", args.files)
    group = [candidate(n) for n in range(args.group)]
    profile = load_profile("default")
    out: dict[str, object] = {"load": round(os.getloadavg()[0], 1), "group": args.group}
    with Scorer([task], profile, workers=1) as scorer:
        out["local_1w_s"], local = timed(scorer, task.instance_id, group, 1)
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "object_store_memory": 100_000_000})
    cluster.add_node(num_cpus=1, object_store_memory=100_000_000)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        config = WorkerConfig({task.instance_id: task}, profile)
        blobs = {}
        for actors in (1, 2):
            executor = RayExecutor(config, actors)  # two in flight per actor (the default)
            with Scorer([task], profile, executor=executor) as scorer:
                out[f"ray_{actors}a_s"], blobs[actors] = timed(scorer, task.instance_id,
                                                              group, 2 * actors)
    finally:
        ray.shutdown()
        cluster.shutdown()
    out["ray_overhead"] = round(out["ray_1a_s"] / out["local_1w_s"] - 1, 3)
    out["speedup_2a"] = round(out["ray_1a_s"] / out["ray_2a_s"], 2)
    out["same_bytes"] = local == blobs[1] == blobs[2]
    for key in ("local_1w_s", "ray_1a_s", "ray_2a_s"):
        out[key] = round(out[key], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
