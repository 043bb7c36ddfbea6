"""The GRPO objective: group-relative advantages and a clipped, token-level policy loss.

One rollout batch is ``B`` tasks × ``G`` completions. For task ``i`` the rewards
``r_i1 .. r_iG`` of its group give each completion the advantage

    A_ij = r_ij − mean_j(r_i·)                      (Dr. GRPO: no division by the std)
    A_ij = (r_ij − mean_j(r_i·)) / (std_j(r_i·) + ε)   (``scale_std=True``: GRPO as published)

Dividing by the std up-weights groups that are almost all equal (easy or hopeless
prompts), a difficulty bias Liu et al. (2025, "Understanding R1-Zero-Like Training")
measured, so it is off by default. A group whose rewards are all equal has
advantage 0 everywhere and carries no signal: it is dropped from the update
(:func:`informative_groups`), as DAPO's dynamic sampling does, so it neither adds a
gradient nor dilutes the token mean.

Every completion token ``t`` gets its completion's advantage and the PPO ratio
``ρ_t = exp(log π_θ(t) − log π_old(t))``; the per-token loss is

    −min(ρ_t A, clip(ρ_t, 1 − ε_low, 1 + ε_high) A)  [+ β · KL_k3(π_θ ‖ π_ref)_t]

with DAPO's clip-higher (``ε_high > ε_low``: low-probability tokens that pay may grow
further before the clip stops them, which keeps entropy from collapsing), and the loss
is the mean over *all tokens of the batch* (token-level aggregation, DAPO): a long
completion counts per token, not as one sample averaged with a short one. The KL term
is Schulman's k3 estimator ``exp(q − p) − (q − p) − 1`` (``p`` the policy's and ``q``
the reference's log-probability), non-negative and unbiased; ``β = 0`` by default.

All functions are pure tensor arithmetic with no model in sight, so each is checked
against hand-computed values (tests/test_train_objective.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ClipConfig:
    """The objective's knobs (defaults: DAPO's clip ranges, Dr. GRPO's advantages, no KL)."""

    clip_low: float = 0.2
    clip_high: float = 0.28
    scale_std: bool = False
    kl_coef: float = 0.0
    eps: float = 1e-6


def group_advantages(rewards: torch.Tensor, *, scale_std: bool = False,
                     eps: float = 1e-6) -> torch.Tensor:
    """Advantages of a ``[B, G]`` reward tensor: each group centred on its mean.

    With ``scale_std`` each group is also divided by its (population) std + ``eps``;
    a group of equal rewards gets 0 either way.
    """
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [tasks, group], got shape {tuple(rewards.shape)}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if scale_std:
        centred = centred / (rewards.std(dim=1, unbiased=False, keepdim=True) + eps)
    return centred


def informative_groups(rewards: torch.Tensor) -> torch.Tensor:
    """``[B]`` bool: the groups whose rewards are not all equal (the others are dropped)."""
    return (rewards != rewards[:, :1]).any(dim=1)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(π_θ ‖ π_ref) from both log-probabilities of the sample."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


@dataclass(frozen=True)
class LossParts:
    """The scalar loss and what to log about it (plain floats, detached)."""

    loss: torch.Tensor
    tokens: int
    clip_fraction: float
    kl: float
    ratio_mean: float


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, config: ClipConfig = ClipConfig(),
                ref_logp: torch.Tensor | None = None,
                total_tokens: int | None = None) -> LossParts:
    """The clipped surrogate over ``[N, T]`` completion tokens, averaged per token.

    ``logp``: the current policy's log-probabilities of the sampled tokens (with
    grad); ``old_logp``: the same at sampling time; ``advantages``: ``[N]``, one per
    completion; ``mask``: ``[N, T]``, 1 on completion tokens (padding 0).
    ``total_tokens``: the denominator when a batch is split into micro-batches (the
    token count of the whole batch, so that the micro-batch losses add up to the
    batch's token mean); default the tokens of this call. A ``ref_logp`` is needed
    when ``config.kl_coef`` is not 0.
    """
    mask = mask.to(logp.dtype)
    tokens = int(mask.sum().item())
    denominator = float(total_tokens if total_tokens is not None else max(tokens, 1))
    ratio = torch.exp(logp - old_logp)
    adv = advantages.to(logp.dtype).unsqueeze(1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - config.clip_low, 1 + config.clip_high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    kl_value = 0.0
    if config.kl_coef:
        if ref_logp is None:
            raise ValueError("kl_coef is set but no reference log-probabilities were given")
        kl = k3_kl(logp, ref_logp)
        per_token = per_token + config.kl_coef * kl
        kl_value = float((kl * mask).sum().item() / max(tokens, 1))
    elif ref_logp is not None:
        kl_value = float((k3_kl(logp, ref_logp) * mask).sum().item() / max(tokens, 1))
    loss = (per_token * mask).sum() / denominator
    with torch.no_grad():
        # A token is clipped when the clipped branch won the min (its gradient is 0).
        was_clipped = ((clipped < unclipped) & (mask > 0)).sum().item()
        ratio_mean = float((ratio * mask).sum().item() / max(tokens, 1))
    return LossParts(loss, tokens, was_clipped / max(tokens, 1), kl_value, ratio_mean)


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor,
                   temperature: float = 1.0) -> torch.Tensor:
    """Log-probabilities of ``targets`` ``[N, T]`` under ``logits`` ``[N, T, V]``.

    Divided by the sampling temperature first, so the ratio compares the
    distribution the tokens were actually drawn from. Computed in float32 (bf16
    log-softmax over a large vocabulary loses the small differences a ratio needs).
    """
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    return torch.gather(torch.log_softmax(logits, dim=-1), 2, targets.unsqueeze(-1)).squeeze(-1)


def token_entropy(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Entropy of each position's (temperature-scaled) distribution, ``[N, T]``."""
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


__all__ = ["ClipConfig", "LossParts", "group_advantages", "informative_groups", "k3_kl",
           "policy_loss", "token_entropy", "token_logprobs"]
