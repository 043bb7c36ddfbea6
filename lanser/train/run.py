"""The two jobs behind ``lanser train``: a training run, and an evaluation.

Each loads the tasks, the model (offline: :mod:`lanser.train.models`) and a reward
source, then hands them to :mod:`lanser.train.loop`. The reward source is the scoring
issue's ``Scorer`` for a ``tasks.jsonl`` when ``lanser.scoring`` is installed, else
lanser's one-shot reward on ``task.toml`` workspaces (:mod:`lanser.train.rewards`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.errors import UsageError
from lanser.train.tasks import TrainTask


def _require_extra() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise UsageError("lanser train needs the train extra: pip install 'lanser[train]' "
                         "(install torch first, for the CPU or your CUDA)",
                         code="missing_extra") from None


def reward_source(tasks_path: Path, tasks: list[TrainTask], *, profile: str,
                  workers: int, executor: str = "local", ray_address: str | None = None) -> Any:
    """The scoring service when it can read these tasks, else the one-shot adapter.

    ``executor``: ``local`` (worker processes) or ``ray`` (actors on the cluster at
    ``ray_address``; the one-shot adapter has no executor and refuses it).
    """
    from lanser.train.rewards import ScorerSource, WorkspaceSource

    if tasks_path.suffix == ".jsonl" and ScorerSource.available():
        from lanser.scoring import Scorer  # type: ignore[import-not-found]
        from lanser.tasks import load_tasks  # type: ignore[attr-defined]

        return ScorerSource(Scorer(load_tasks(tasks_path), profile, workers=workers,
                                   executor=executor, ray_address=ray_address))
    if executor != "local":
        raise UsageError(f"--executor {executor}: the Scorer's executors need a tasks.jsonl "
                         "(task.toml workspaces are scored here)", code="usage")
    return WorkspaceSource(tasks, profile=profile)


@dataclass(frozen=True)
class RunResult:
    steps: int
    out: Path
    model_dir: Path
    last: dict[str, Any] | None


def train(tasks_path: Path, model_name: str, config: Any, out: Path, *,
          profile: str = "train", resume: bool = False, repos: Path | None = None,
          on_step: Callable[[dict[str, Any]], None] | None = None,
          on_start: Callable[[int], None] | None = None) -> RunResult:
    """Train on the tasks at ``tasks_path``; checkpoints, metrics and the model under ``out``."""
    _require_extra()
    from lanser.train import models, tasks
    from lanser.train.loop import Trainer

    loaded = tasks.load(tasks_path, repos=repos, views=out / "views")
    policy, tokenizer = models.load(model_name)
    source = reward_source(tasks_path, loaded, profile=profile, workers=config.score_workers,
                           executor=config.score_executor, ray_address=config.ray_address)
    # The KL term's frozen reference: a second copy of the starting weights.
    reference = models.load(model_name)[0] if config.clip.kl_coef else None
    trainer = Trainer(policy, tokenizer, loaded, source, config, out, reference=reference)
    try:
        start = trainer.resume() if resume else 0
        if on_start is not None:
            on_start(start)
        results = trainer.run(on_step=on_step)
    finally:
        trainer.close()
    model_dir = out / "model"
    final = trainer.model
    if config.lora_rank:
        final = final.merge_and_unload()
    final.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return RunResult(trainer.step, out, model_dir, results[-1].metrics if results else None)


def evaluate(tasks_path: Path, model_name: str, config: Any, *, profile: str = "train",
             repos: Path | None = None, views: Path | None = None) -> Any:
    """pass@1 and mean reward of ``model_name`` on the tasks (greedy, one sample each)."""
    _require_extra()
    import tempfile

    from lanser.train import loop, models, tasks

    with tempfile.TemporaryDirectory(prefix="lanser-eval-") as tmp:
        loaded = tasks.load(tasks_path, repos=repos, views=views or Path(tmp))
        policy, tokenizer = models.load(model_name)
        source = reward_source(tasks_path, loaded, profile=profile,
                               workers=config.score_workers,
                           executor=config.score_executor, ray_address=config.ray_address)
        return loop.evaluate(policy, tokenizer, loaded, source, config=config)


__all__ = ["RunResult", "evaluate", "reward_source", "train"]
