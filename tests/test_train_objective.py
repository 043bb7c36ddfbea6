"""The GRPO objective against hand-computed values (lanser/train/objective.py)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from lanser.train.objective import (  # noqa: E402
    ClipConfig,
    group_advantages,
    informative_groups,
    k3_kl,
    policy_loss,
    token_logprobs,
)


def test_advantages_are_mean_centred_without_std_by_default():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0], [3.0, 0.0, 0.0, 0.0]])
    adv = group_advantages(rewards)
    assert adv.tolist() == [[0.5, -0.5, -0.5, 0.5], [0.0] * 4, [2.25, -0.75, -0.75, -0.75]]
    scaled = group_advantages(rewards, scale_std=True, eps=0.0)
    # std of [1, 0, 0, 1] is 0.5; of [3, 0, 0, 0] is sqrt(27/16).
    assert scaled[0].tolist() == [1.0, -1.0, -1.0, 1.0]
    assert scaled[2, 0].item() == pytest.approx(2.25 / math.sqrt(27 / 16))
    assert group_advantages(rewards, scale_std=True)[1].tolist() == [0.0] * 4
    assert informative_groups(rewards).tolist() == [True, False, True]


def _parts(ratios, advantages, mask, config=ClipConfig()):
    old = torch.log(torch.full_like(torch.tensor(ratios), 0.5))
    logp = (old + torch.log(torch.tensor(ratios))).requires_grad_(True)
    parts = policy_loss(logp, old, torch.tensor(advantages), torch.tensor(mask), config)
    parts.loss.backward()
    return parts, logp.grad


def test_clip_higher_and_token_mean_by_hand():
    # Completion 1 (A=+1): ratio 1.5 is clipped at 1 + 0.28, 0.9 is not.
    # Completion 2 (A=-1): ratio 0.5 is clipped at 1 - 0.2 (loss +0.8); 1.1 is padding.
    parts, grad = _parts([[1.5, 0.9], [0.5, 1.1]], [1.0, -1.0], [[1.0, 1.0], [1.0, 0.0]])
    assert parts.tokens == 3
    assert parts.loss.item() == pytest.approx((-1.28 - 0.9 + 0.8) / 3)
    assert parts.clip_fraction == pytest.approx(2 / 3)
    # d(-ratio·A/3)/dlogp = -ratio·A/3 where unclipped; 0 where clipped or padded.
    assert grad.flatten().tolist() == pytest.approx([0.0, -0.3, 0.0, 0.0])


def test_symmetric_clip_when_high_equals_low():
    parts, _ = _parts([[1.5]], [1.0], [[1.0]], ClipConfig(clip_low=0.2, clip_high=0.2))
    assert parts.loss.item() == pytest.approx(-1.2)


def test_token_level_aggregation_weighs_tokens_not_samples():
    # A 3-token completion with A=+1 and a 1-token one with A=-1, all ratios 1:
    # token mean = (-1·3 + 1·1) / 4 = -0.5 (a sample mean would give 0).
    parts, _ = _parts([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], [1.0, -1.0],
                      [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert parts.loss.item() == pytest.approx(-0.5)
    # Micro-batches share the batch's denominator, so their losses add up.
    old = torch.zeros(1, 3)
    first = policy_loss(old.clone(), old, torch.tensor([1.0]), torch.tensor([[1.0, 1, 1]]),
                        total_tokens=4)
    second = policy_loss(old.clone(), old, torch.tensor([-1.0]), torch.tensor([[1.0, 0, 0]]),
                         total_tokens=4)
    assert first.loss.item() + second.loss.item() == pytest.approx(-0.5)


def test_k3_kl_by_hand_and_in_the_loss():
    logp, ref = torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))
    assert k3_kl(logp, ref).item() == pytest.approx(0.5 + math.log(2) - 1)
    assert k3_kl(logp, logp).item() == 0.0
    with pytest.raises(ValueError):
        policy_loss(logp.view(1, 1), logp.view(1, 1), torch.tensor([0.0]),
                    torch.ones(1, 1), ClipConfig(kl_coef=0.1))
    parts = policy_loss(logp.view(1, 1), logp.view(1, 1), torch.tensor([0.0]), torch.ones(1, 1),
                        ClipConfig(kl_coef=0.1), ref_logp=ref.view(1, 1))
    assert parts.loss.item() == pytest.approx(0.1 * (0.5 + math.log(2) - 1))
    assert parts.kl == pytest.approx(0.5 + math.log(2) - 1)


def test_token_logprobs_use_the_sampling_temperature():
    logits = torch.tensor([[[2.0, 0.0]]])
    at_one = token_logprobs(logits, torch.tensor([[0]]))
    assert at_one.item() == pytest.approx(math.log(math.e ** 2 / (math.e ** 2 + 1)))
    at_two = token_logprobs(logits, torch.tensor([[0]]), temperature=2.0)
    assert at_two.item() == pytest.approx(math.log(math.e / (math.e + 1)))


def test_an_equal_reward_group_contributes_no_gradient():
    torch.manual_seed(0)
    weights = torch.randn(4, 5, requires_grad=True)
    features = torch.randn(4, 3, 4)  # 4 completions, 3 tokens each
    targets = torch.randint(0, 5, (4, 3))
    mask = torch.ones(4, 3)

    def loss_for(rows, rewards):
        logits = features[rows] @ weights
        logp = token_logprobs(logits, targets[rows])
        adv = group_advantages(rewards).flatten()
        return policy_loss(logp, logp.detach(), adv, mask[rows]).loss

    equal = loss_for([0, 1], torch.tensor([[1.0, 1.0]]))
    equal.backward()
    assert weights.grad is not None and torch.count_nonzero(weights.grad) == 0
    weights.grad = None
    # Dropping the equal group from a mixed batch: the same gradient as without it.
    rewards = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    keep = informative_groups(rewards)
    assert keep.tolist() == [False, True]
    loss_for([2, 3], rewards[keep]).backward()
    alone = weights.grad.clone()
    assert torch.count_nonzero(alone) > 0
    # Kept in, the equal group adds no gradient of its own but dilutes the token mean.
    weights.grad = None
    loss_for([0, 1, 2, 3], rewards).backward()
    assert torch.allclose(weights.grad * 2, alone)
