"""The GRPO loop: sample, score (overlapped), advantage, clipped updates, log, checkpoint.

One step, in the order the code runs it:

1. pick ``tasks_per_step`` tasks (a function of the seed and the step number only,
   so a resumed run picks what the uninterrupted run picked);
2. for each chunk of ``gen_chunk`` tasks: ``generate`` G completions per task, hand
   them to the scoring pool (threads: the reward path is subprocesses — servers,
   pytest — so it runs beside generation, never in front of it), and compute their
   old log-probs while the pool scores; the next chunk generates while the previous
   one is being scored;
3. wait for the scores; group-relative advantages; drop groups whose rewards are
   all equal;
4. ``epochs`` passes over the kept rows, micro-batched, the loss averaged over all
   tokens of the batch; gradient clipping, one AdamW step per pass;
5. one metrics line (JSONL), and a checkpoint every ``checkpoint_every`` steps.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from lanser.train import checkpoints, prompting
from lanser.train.objective import ClipConfig, group_advantages, informative_groups, policy_loss
from lanser.train.rewards import RewardSource, Score
from lanser.train.rollout import (
    Group,
    SamplingConfig,
    collate,
    fill_logprobs,
    forward_logprobs,
    sample,
)
from lanser.train.tasks import TrainTask


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 30
    tasks_per_step: int = 2
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    lr: float = 1e-6
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    epochs: int = 2
    micro_batch: int = 8
    prompt_budget: int = 1024
    fmt: str = "search_replace"
    prefill: bool = False
    device: str = "auto"
    gradient_checkpointing: bool = False
    lora_rank: int = 0
    seed: int = 0
    score_workers: int = 2
    #: the Scorer's executor (tasks.jsonl runs): local processes, or Ray actors
    score_executor: str = "local"
    ray_address: str | None = None
    gen_chunk: int = 1
    lookahead: bool = False
    checkpoint_every: int = 10

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from lanser.errors import UsageError

        raise UsageError("--device cuda: no CUDA device here", code="no_device")
    return torch.device(name)


def _autocast(device: torch.device) -> Any:
    """bf16 autocast on a GPU; nothing on the CPU (exact float32 there, for exact resume)."""
    import contextlib

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_model(model: Any, config: TrainConfig, device: torch.device) -> Any:
    """LoRA (peft) if asked, gradient checkpointing if asked, moved to ``device``."""
    if config.lora_rank:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(
            r=config.lora_rank, lora_alpha=2 * config.lora_rank, lora_dropout=0.0,
            target_modules="all-linear", task_type="CAUSAL_LM"))
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()
    return model.to(device)


@dataclass
class Pending:
    """Rollouts made and handed to the scorers, whose scores may not be in yet."""

    tasks: list[TrainTask]
    groups: list[Group]
    futures: list[Future[tuple[list[Score], float]]]
    timing: dict[str, float]


@dataclass
class StepResult:
    """What one step measured (one metrics line)."""

    metrics: dict[str, Any]
    losses: list[float]


class Trainer:
    """Owns the policy, optimizer, reward source and the run folder."""

    def __init__(self, model: Any, tokenizer: Any, tasks: Sequence[TrainTask],
                 source: RewardSource, config: TrainConfig, out: Path | None = None, *,
                 reference: Any = None) -> None:
        self.config = config
        self.device = pick_device(config.device)
        self.model = prepare_model(model, config, self.device)
        self.tokenizer = tokenizer
        self.tasks = list(tasks)
        self.source = source
        self.out = out
        self.reference = reference.to(self.device).eval() if reference is not None else None
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.step = 0
        self.pool = ThreadPoolExecutor(max_workers=max(config.score_workers, 1),
                                       thread_name_prefix="lanser-score")
        self._prompts: dict[str, str] = {}
        self._prefills: dict[str, str] = {}
        self._ahead: Pending | None = None
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # -- the pieces of a step ------------------------------------------------------------

    def prompt(self, task: TrainTask) -> str:
        """The prompt text, ending with the answer's prefill when ``config.prefill``."""
        if task.instance_id not in self._prompts:
            head = prompting.prefill(task, self.config.fmt) if self.config.prefill else ""
            self._prefills[task.instance_id] = head
            self._prompts[task.instance_id] = prompting.build(
                self.tokenizer, task, budget=self.config.prompt_budget,
                fmt=self.config.fmt) + head
        return self._prompts[task.instance_id]

    def tasks_for(self, step: int) -> list[TrainTask]:
        """The step's tasks: a function of (seed, step) alone (resume picks the same)."""
        rng = random.Random(self.config.seed * 1_000_003 + step)
        n = min(self.config.tasks_per_step, len(self.tasks))
        return rng.sample(self.tasks, n)

    def start_rollouts(self, tasks: Sequence[TrainTask], sampling: SamplingConfig) -> Pending:
        """Generate chunk by chunk, handing each chunk to the scorers as it is made."""
        timing = {"generate_s": 0.0, "logprob_s": 0.0}
        pending = Pending(list(tasks), [], [], timing)
        chunk = max(self.config.gen_chunk, 1)
        for start in range(0, len(tasks), chunk):
            part = tasks[start:start + chunk]
            t0 = time.perf_counter()
            with _autocast(self.device):
                made = sample(self.model, self.tokenizer, [t.instance_id for t in part],
                              [self.prompt(t) for t in part], sampling, self.device)
            timing["generate_s"] += time.perf_counter() - t0
            self._submit(pending, made)
            t0 = time.perf_counter()
            with _autocast(self.device):
                fill_logprobs(self.model, made, sampling.temperature, self.pad_id, self.device,
                              micro_batch=self.config.micro_batch)
                if self.reference is not None:
                    fill_logprobs(self.reference, made, sampling.temperature, self.pad_id,
                                  self.device, reference=True,
                                  micro_batch=self.config.micro_batch)
            timing["logprob_s"] += time.perf_counter() - t0
        return pending

    def _submit(self, pending: Pending, groups: Sequence[Group]) -> None:
        for g in groups:
            pending.groups.append(g)
            # The reward reads the whole answer: the prefill the prompt ended with + the text.
            head = self._prefills.get(g.instance_id, "")
            pending.futures.append(self.pool.submit(_timed, self.source.score_group,
                                                    g.instance_id, [head + t for t in g.texts]))

    @staticmethod
    def finish_rollouts(pending: Pending
                        ) -> tuple[list[Group], list[list[Score]], dict[str, float]]:
        """Wait for the scores of ``pending``: (groups, scores, timing)."""
        t0 = time.perf_counter()
        done = [f.result() for f in pending.futures]
        timing = {**pending.timing, "score_wait_s": time.perf_counter() - t0,
                  "score_busy_s": sum(seconds for _, seconds in done)}
        return pending.groups, [scores for scores, _ in done], timing

    def rollouts(self, tasks: Sequence[TrainTask], sampling: SamplingConfig
                 ) -> tuple[list[Group], list[list[Score]], dict[str, float]]:
        """Sampled and scored groups for ``tasks`` (scoring overlaps later chunks)."""
        return self.finish_rollouts(self.start_rollouts(tasks, sampling))

    def update(self, groups: Sequence[Group], advantages: torch.Tensor
               ) -> tuple[list[float], dict[str, float]]:
        """``epochs`` clipped passes over the rows of ``groups``; one AdamW step each."""
        rows = [(g.prompt_ids, g.completion_ids[k], g.completion_mask[k], g.old_logp[k],
                 None if g.ref_logp is None else g.ref_logp[k], float(advantages[i, k]))
                for i, g in enumerate(groups) for k in range(g.completion_ids.shape[0])
                if g.old_logp is not None]
        total = sum(int(m.sum().item()) for _, _, m, _, _, _ in rows)
        losses: list[float] = []
        stats = {"clip_fraction": 0.0, "kl": 0.0, "entropy": 0.0, "grad_norm": 0.0}
        if not rows or total == 0:
            return losses, stats
        self.model.train()
        temperature = self.config.sampling.temperature
        for epoch in range(self.config.epochs):
            loss_sum, clipped, kl, entropy = 0.0, 0.0, 0.0, 0.0
            for start in range(0, len(rows), self.config.micro_batch):
                chunk = rows[start:start + self.config.micro_batch]
                batch = collate([(p, c, m) for p, c, m, _, _, _ in chunk], self.pad_id,
                                self.device)
                width = batch.completion_ids.shape[1]
                old = _pad([o for _, _, _, o, _, _ in chunk], width).to(self.device)
                ref = None if chunk[0][4] is None else \
                    _pad([r for _, _, _, _, r, _ in chunk], width).to(self.device)
                adv = torch.tensor([a for *_, a in chunk], device=self.device)
                with _autocast(self.device):
                    logp, ent = forward_logprobs(self.model, batch, temperature,
                                                 with_entropy=epoch == 0)
                parts = policy_loss(logp, old, adv, batch.completion_mask, self.config.clip,
                                    ref_logp=ref, total_tokens=total)
                parts.loss.backward()
                loss_sum += float(parts.loss.item())
                clipped += parts.clip_fraction * parts.tokens
                kl += parts.kl * parts.tokens
                if ent is not None:
                    entropy += float((ent * batch.completion_mask).sum().item())
            norm = torch.nn.utils.clip_grad_norm_(
                [p for p in self.model.parameters() if p.requires_grad],
                self.config.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            losses.append(loss_sum)
            if epoch == 0:
                stats["entropy"] = entropy / total
            stats["clip_fraction"] = clipped / total
            stats["kl"] = kl / total
            stats["grad_norm"] = float(norm)
        stats["update_tokens"] = float(total * self.config.epochs)
        return losses, stats

    def train_step(self) -> StepResult:
        """One full step (module docstring); ``self.step`` counts finished steps."""
        t_start = time.perf_counter()
        pending = self.start_rollouts(self.tasks_for(self.step), self.config.sampling)
        return self.learn(pending, t_start)

    def learn(self, pending: Pending, t_start: float,
              ahead: Pending | None = None) -> StepResult:
        """Wait for ``pending``'s scores, update on them, and measure the step.

        ``ahead``: the next step's rollouts, generated (and being scored) meanwhile;
        its generation time counts in this step's wall time and is reported with it.
        """
        groups, scores, timing = self.finish_rollouts(pending)
        if ahead is not None:
            timing = {**timing, "generate_s": ahead.timing["generate_s"],
                      "logprob_s": ahead.timing["logprob_s"]}
        rewards = torch.tensor([[s.reward for s in group] for group in scores],
                               dtype=torch.float64)
        keep = informative_groups(rewards)
        advantages = group_advantages(rewards, scale_std=self.config.clip.scale_std,
                                      eps=self.config.clip.eps)
        kept = [g for g, k in zip(groups, keep.tolist(), strict=True) if k]
        t0 = time.perf_counter()
        losses, stats = self.update(kept, advantages[keep])
        update_s = time.perf_counter() - t0
        self.step += 1
        step_s = time.perf_counter() - t_start
        flat = [s for group in scores for s in group]
        generated = sum(g.tokens for g in (ahead.groups if ahead is not None else groups))
        metrics = {
            "step": self.step, "tasks": [t.instance_id for t in pending.tasks],
            "reward_mean": float(rewards.mean()), "reward_std": float(rewards.std(unbiased=False)),
            "resolved_rate": sum(s.resolved for s in flat) / max(len(flat), 1),
            "components": _component_means(flat),
            "groups_kept": int(keep.sum()), "groups": len(groups),
            "loss": losses, **stats, **timing, "update_s": update_s, "step_s": step_s,
            "generated_tokens": generated,
            "generate_tokens_per_s": generated / max(timing["generate_s"], 1e-9),
            "update_tokens_per_s": stats.get("update_tokens", 0.0) / max(update_s, 1e-9),
            "rewards_per_s": len(flat) / max(timing["score_busy_s"], 1e-9),
            "gpu_memory_gb": (torch.cuda.max_memory_allocated() / 2**30
                              if self.device.type == "cuda" else None),
        }
        return StepResult(metrics, losses)

    # -- the run -------------------------------------------------------------------------

    def save(self) -> Path | None:
        """A checkpoint of the finished steps (and, with lookahead, the next rollouts)."""
        if self.out is None:
            return None
        pending = self._ahead.groups if self._ahead is not None else None
        return checkpoints.save(self.out / "checkpoints", self.step, self.model, self.optimizer,
                                {"config": self.config.to_json()},
                                pending=None if pending is None else _pack(pending))

    def resume(self, folder: Path | None = None) -> int:
        """Continue from ``folder`` (default: the run's latest checkpoint); returns its step."""
        if folder is None:
            if self.out is None:
                return 0
            folder = checkpoints.latest(self.out / "checkpoints")
            if folder is None:
                return 0
        elif (folder / checkpoints.LATEST).exists() or folder.name == "checkpoints":
            found = checkpoints.latest(folder)
            if found is None:
                return 0
            folder = found
        loaded = checkpoints.load(folder, self.model, self.optimizer)
        self.step = loaded.step
        if loaded.pending is not None:  # the next step's rollouts, made before the save
            groups = _unpack(*loaded.pending)
            ahead = Pending(self.tasks_for(self.step), [], [],
                            {"generate_s": 0.0, "logprob_s": 0.0})
            self._submit(ahead, groups)
            self._ahead = ahead
        return self.step

    def run(self, on_step: Callable[[dict[str, Any]], None] | None = None) -> list[StepResult]:
        """Steps until ``config.steps``: metrics lines, checkpoints, ``on_step`` per step.

        With ``config.lookahead``, step k+1's rollouts are generated (by the policy
        before step k's update) while step k's are scored, so the reward path never
        leaves the accelerator idle; the ratio's old log-probs are those of the policy
        that sampled them, which is what the clipped objective corrects for. A
        checkpoint then carries those rollouts, so a resume continues exactly.
        """
        results = []
        log = None
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            log = (self.out / "metrics.jsonl").open("a", encoding="utf-8")
        try:
            while self.step < self.config.steps:
                t_start = time.perf_counter()
                if self.config.lookahead:
                    current = self._ahead or self.start_rollouts(
                        self.tasks_for(self.step), self.config.sampling)
                    nxt = self.step + 1
                    self._ahead = self.start_rollouts(self.tasks_for(nxt),
                                                      self.config.sampling) \
                        if nxt < self.config.steps else None
                    result = self.learn(current, t_start, self._ahead)
                else:
                    result = self.train_step()
                results.append(result)
                if log is not None:
                    log.write(json.dumps(result.metrics, sort_keys=True) + "\n")
                    log.flush()
                if self.config.checkpoint_every and (
                        self.step % self.config.checkpoint_every == 0
                        or self.step == self.config.steps):
                    self.save()
                if on_step is not None:
                    on_step(result.metrics)
        finally:
            if log is not None:
                log.close()
        return results

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _timed(fn: Callable[..., list[Score]], *args: Any) -> tuple[list[Score], float]:
    t0 = time.perf_counter()
    return fn(*args), time.perf_counter() - t0


def _pack(groups: Sequence[Group]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Groups as flat tensors + JSON-able metadata (for a checkpoint)."""
    tensors: dict[str, torch.Tensor] = {}
    for i, g in enumerate(groups):
        tensors[f"{i}.prompt"] = g.prompt_ids
        tensors[f"{i}.completion"] = g.completion_ids
        tensors[f"{i}.mask"] = g.completion_mask
        if g.old_logp is not None:
            tensors[f"{i}.old"] = g.old_logp
        if g.ref_logp is not None:
            tensors[f"{i}.ref"] = g.ref_logp
    return tensors, {"groups": [[g.instance_id, g.texts] for g in groups]}


def _unpack(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> list[Group]:
    return [Group(instance_id, tensors[f"{i}.prompt"], tensors[f"{i}.completion"],
                  tensors[f"{i}.mask"], list(texts), tensors.get(f"{i}.old"),
                  tensors.get(f"{i}.ref"))
            for i, (instance_id, texts) in enumerate(meta["groups"])]


def _pad(rows: Sequence[torch.Tensor], width: int) -> torch.Tensor:
    out = torch.zeros((len(rows), width), dtype=torch.float32)
    for i, r in enumerate(rows):
        out[i, :r.shape[0]] = r
    return out


def _component_means(scores: Sequence[Score]) -> dict[str, float]:
    names = sorted({k for s in scores for k in s.components})
    return {k: sum(s.components.get(k, 0.0) for s in scores) / len(scores) for k in names}


@dataclass(frozen=True)
class EvalResult:
    tasks: int
    pass_at_1: float
    mean_reward: float
    per_task: dict[str, dict[str, Any]]


def evaluate(model: Any, tokenizer: Any, tasks: Sequence[TrainTask], source: RewardSource, *,
             config: TrainConfig = TrainConfig()) -> EvalResult:
    """pass@1 and mean reward with one greedy completion per task."""
    # No LoRA or checkpointing set-up here: the model is evaluated as it is given.
    trainer = Trainer(model, tokenizer, tasks, source,
                      replace(config, lora_rank=0, gradient_checkpointing=False))
    try:
        greedy = SamplingConfig(group_size=1, temperature=0.0,
                                max_new_tokens=config.sampling.max_new_tokens)
        groups, scores, _ = trainer.rollouts(list(tasks), greedy)
    finally:
        trainer.close()
    per_task = {g.instance_id: {"reward": s[0].reward, "resolved": s[0].resolved,
                                "completion": g.texts[0]}
                for g, s in zip(groups, scores, strict=True)}
    n = max(len(per_task), 1)
    return EvalResult(len(per_task), sum(v["resolved"] for v in per_task.values()) / n,
                      sum(v["reward"] for v in per_task.values()) / n, per_task)


__all__ = ["EvalResult", "StepResult", "TrainConfig", "Trainer", "evaluate", "pick_device",
           "prepare_model"]
