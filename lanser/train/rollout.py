"""Rollouts: G sampled completions per task, with the log-probabilities they were drawn at.

Generation is Hugging Face ``generate`` (KV cache, temperature, top-p, a cap on new
tokens) over a left-padded batch of prompts, each repeated G times. The log-probs
the update's ratio divides by ("old" log-probs) are recomputed by a plain forward
pass over prompt + completion right after sampling, in the same numeric setting as
the update's forward pass: ``generate``'s own scores come from a differently shaped
(cached, incremental) computation and would make the first epoch's ratio drift from
exactly 1.

A completion ends at its first end-of-sequence token (kept: the policy is trained
to stop) or at the cap; what follows is padding and masked out everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lanser.train.objective import token_entropy, token_logprobs


@dataclass(frozen=True)
class SamplingConfig:
    group_size: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128


@dataclass
class Group:
    """One task's G completions (tensors on the CPU, unpadded prompt)."""

    instance_id: str
    prompt_ids: torch.Tensor        # [P]
    completion_ids: torch.Tensor    # [G, T]
    completion_mask: torch.Tensor   # [G, T] 1 up to and including the first EOS
    texts: list[str]
    old_logp: torch.Tensor | None = None   # [G, T]
    ref_logp: torch.Tensor | None = None   # [G, T]

    @property
    def tokens(self) -> int:
        return int(self.completion_mask.sum().item())


def _eos_ids(tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    return ids


def completion_mask(completions: torch.Tensor, eos: set[int]) -> torch.Tensor:
    """1 up to and including each row's first EOS token; all 1 when there is none."""
    if not eos:
        return torch.ones_like(completions)
    is_eos = torch.zeros_like(completions, dtype=torch.bool)
    for token in eos:
        is_eos |= completions == token
    # Positions after the first EOS: a cumulative count of EOS before them is > 0.
    before = torch.cumsum(is_eos.int(), dim=1) - is_eos.int()
    return (before == 0).long()


@torch.no_grad()
def sample(model, tokenizer, instance_ids: Sequence[str], prompts: Sequence[str],
           config: SamplingConfig, device: torch.device) -> list[Group]:
    """G completions for each prompt, grouped by task (one ``generate`` call)."""
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True,
                    add_special_tokens=False)
    input_ids = enc["input_ids"].to(device)
    attention = enc["attention_mask"].to(device)
    greedy = config.temperature <= 0
    was_training = model.training
    model.eval()
    out = model.generate(
        input_ids=input_ids, attention_mask=attention, use_cache=True,
        do_sample=not greedy, temperature=None if greedy else config.temperature,
        top_p=None if greedy else config.top_p, top_k=None if greedy else 0,
        max_new_tokens=config.max_new_tokens, num_return_sequences=config.group_size,
        pad_token_id=tokenizer.pad_token_id)
    model.train(was_training)
    width = input_ids.shape[1]
    completions = out[:, width:].cpu()
    mask = completion_mask(completions, _eos_ids(tokenizer))
    groups = []
    g = config.group_size
    for i, instance_id in enumerate(instance_ids):
        rows = slice(i * g, (i + 1) * g)
        prompt = enc["input_ids"][i][enc["attention_mask"][i].bool()]
        ids, m = completions[rows], mask[rows]
        texts = [tokenizer.decode(r[k.bool()], skip_special_tokens=True)
                 for r, k in zip(ids, m, strict=True)]
        groups.append(Group(instance_id, prompt, ids, m, texts))
    return groups


@dataclass(frozen=True)
class Batch:
    """Groups' rows collated for one forward pass: prompts left-padded, completions right."""

    input_ids: torch.Tensor       # [N, P + T]
    attention_mask: torch.Tensor  # [N, P + T]
    position_ids: torch.Tensor    # [N, P + T]
    completion_ids: torch.Tensor  # [N, T]
    completion_mask: torch.Tensor  # [N, T]


def collate(rows: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], pad_id: int,
            device: torch.device) -> Batch:
    """Rows of (prompt ids, completion ids, completion mask) as one padded batch.

    Positions count real tokens only (as ``generate`` counts them with left padding),
    so a row's log-probs do not depend on what it was batched with.
    """
    width_p = max(int(p.shape[0]) for p, _, _ in rows)
    width_t = max(int(c.shape[0]) for _, c, _ in rows)
    n = len(rows)
    ids = torch.full((n, width_p + width_t), pad_id, dtype=torch.long)
    attn = torch.zeros((n, width_p + width_t), dtype=torch.long)
    comp = torch.full((n, width_t), pad_id, dtype=torch.long)
    cmask = torch.zeros((n, width_t), dtype=torch.long)
    for i, (p, c, m) in enumerate(rows):
        ids[i, width_p - p.shape[0]:width_p] = p
        attn[i, width_p - p.shape[0]:width_p] = 1
        ids[i, width_p:width_p + c.shape[0]] = c
        attn[i, width_p:width_p + c.shape[0]] = m
        comp[i, :c.shape[0]] = c
        cmask[i, :c.shape[0]] = m
    positions = (attn.cumsum(dim=1) - 1).clamp(min=0)
    return Batch(ids.to(device), attn.to(device), positions.to(device), comp.to(device),
                 cmask.to(device))


def forward_logprobs(model, batch: Batch, temperature: float,
                     with_entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs (and entropies) of the batch's completion tokens, ``[N, T]``."""
    width_t = batch.completion_ids.shape[1]
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                position_ids=batch.position_ids, use_cache=False,
                logits_to_keep=width_t + 1)
    logits = out.logits[:, :-1, :]  # position j predicts completion token j
    t = temperature if temperature > 0 else 1.0
    logp = token_logprobs(logits, batch.completion_ids, t)
    entropy = token_entropy(logits.detach(), t) if with_entropy else None
    return logp, entropy


@torch.no_grad()
def fill_logprobs(model, groups: Sequence[Group], temperature: float, pad_id: int,
                  device: torch.device, *, reference: bool = False,
                  micro_batch: int = 8) -> None:
    """Set each group's ``old_logp`` (or ``ref_logp``) from a no-grad forward pass."""
    rows = [(g.prompt_ids, g.completion_ids[k], g.completion_mask[k], g, k)
            for g in groups for k in range(g.completion_ids.shape[0])]
    was_training = model.training
    model.eval()
    results: dict[int, list[torch.Tensor]] = {}
    for start in range(0, len(rows), micro_batch):
        chunk = rows[start:start + micro_batch]
        batch = collate([(p, c, m) for p, c, m, _, _ in chunk], pad_id, device)
        logp, _ = forward_logprobs(model, batch, temperature)
        for (_, c, _, g, _k), row in zip(chunk, logp.float().cpu(), strict=True):
            results.setdefault(id(g), []).append(row[:c.shape[0]])
    model.train(was_training)
    for g in groups:
        value = torch.stack(results[id(g)])
        if reference:
            g.ref_logp = value
        else:
            g.old_logp = value


__all__ = ["Batch", "Group", "SamplingConfig", "collate", "completion_mask", "fill_logprobs",
           "forward_logprobs", "sample"]
