"""The GRPO loop on a tiny local model: it learns, resumes exactly, survives a crash."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from lanser.train import checkpoints  # noqa: E402
from lanser.train.loop import TrainConfig, Trainer  # noqa: E402
from lanser.train.objective import ClipConfig  # noqa: E402
from lanser.train.rollout import (  # noqa: E402
    SamplingConfig,
    collate,
    completion_mask,
    fill_logprobs,
    sample,
)
from lanser.train.tasks import TrainTask  # noqa: E402
from tests import train_toy  # noqa: E402

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

CONFIG = TrainConfig(steps=20, tasks_per_step=2, lr=0.03, epochs=2, micro_batch=8,
                     sampling=SamplingConfig(group_size=8, temperature=1.0, max_new_tokens=2),
                     clip=ClipConfig(), prompt_budget=64, seed=0, score_workers=2,
                     checkpoint_every=0, device="cpu")


def _tasks(tmp_path):
    return [TrainTask("add", "fix the add function", tmp_path),
            TrainTask("sum", "fix the sum function", tmp_path)]


def _trainer(tmp_path, source=None, out=None, **changes):
    from dataclasses import replace

    torch.manual_seed(1)
    return Trainer(train_toy.model(), train_toy.tokenizer(), _tasks(tmp_path),
                   source or train_toy.EditReward(), replace(CONFIG, **changes), out)


def _p_right(trainer) -> float:
    """Mean probability, over the tasks, that the completion starts with the right edit."""
    tok = trainer.tokenizer
    right = tok.convert_tokens_to_ids("plus")
    probs = []
    with torch.no_grad():
        for task in trainer.tasks:
            ids = tok(trainer.prompt(task), return_tensors="pt", add_special_tokens=False)
            logits = trainer.model(**ids).logits[0, -1]
            probs.append(torch.softmax(logits, -1)[right].item())
    return sum(probs) / len(probs)


@pytest.mark.parametrize("lookahead", [False, True])
def test_the_probability_of_the_right_edit_rises(tmp_path, lookahead):
    trainer = _trainer(tmp_path, lookahead=lookahead)
    try:
        before = _p_right(trainer)
        results = trainer.run()
        after = _p_right(trainer)
    finally:
        trainer.close()
    assert after > before + 0.5, (before, after)
    first = sum(r.metrics["reward_mean"] for r in results[:10]) / 10
    last = sum(r.metrics["reward_mean"] for r in results[-10:]) / 10
    assert last > first
    m = results[0].metrics
    assert {"reward_mean", "reward_std", "resolved_rate", "clip_fraction", "kl", "entropy",
            "generate_s", "score_wait_s", "update_s", "update_tokens_per_s",
            "rewards_per_s"} <= set(m)


@pytest.mark.parametrize("lookahead", [False, True])
def test_resume_gives_the_same_next_step_losses(tmp_path, lookahead):
    out = tmp_path / "run"
    first = _trainer(tmp_path, out=out, steps=3, checkpoint_every=2, lookahead=lookahead)
    try:
        straight = first.run()
    finally:
        first.close()
    assert checkpoints.latest(out / "checkpoints").name == "step-000003"
    # With lookahead the checkpoint carries step 3's rollouts, drawn before step 2's update.
    assert (out / "checkpoints" / "step-000002" / checkpoints.PENDING).is_file() == lookahead
    again = _trainer(tmp_path, out=tmp_path / "other", steps=3, checkpoint_every=0,
                     lookahead=lookahead)
    try:
        assert again.resume(out / "checkpoints" / "step-000002") == 2
        resumed = again.run()
    finally:
        again.close()
    assert len(resumed) == 1
    assert resumed[0].losses == straight[2].losses  # exact, to the last digit
    assert resumed[0].metrics["reward_mean"] == straight[2].metrics["reward_mean"]


def test_a_crash_mid_step_leaves_the_last_checkpoint_loadable(tmp_path, monkeypatch):
    out = tmp_path / "run"
    # The scorer dies on its 5th group: step 3 (2 tasks a step) never finishes.
    trainer = _trainer(tmp_path, train_toy.EditReward(fail_at=5), out=out, steps=5,
                       checkpoint_every=1)
    try:
        with pytest.raises(RuntimeError, match="scorer crashed"):
            trainer.run()
        # A crash inside the next save (after the weights were written) changes nothing.
        real = checkpoints.save_file

        def dying(tensors, path, metadata=None):
            if path.endswith(checkpoints.OPTIMIZER):
                raise OSError("disk gone")
            return real(tensors, path, metadata=metadata)

        monkeypatch.setattr(checkpoints, "save_file", dying)
        trainer.step = 3
        with pytest.raises(OSError):
            trainer.save()
    finally:
        trainer.close()
    folder = checkpoints.latest(out / "checkpoints")
    assert folder is not None and folder.name == "step-000002"
    fresh = _trainer(tmp_path)
    try:
        assert fresh.resume(folder) == 2
        from safetensors.torch import load_file

        saved = load_file(str(folder / checkpoints.MODEL))
        for name, param in checkpoints.trainable(fresh.model).items():
            assert torch.equal(param, saved[name])
        assert fresh.optimizer.state  # AdamW moments restored too
    finally:
        fresh.close()
    assert sum(1 for line in (out / "metrics.jsonl").open()) == 2


def test_rollouts_mask_after_eos_and_logprobs_do_not_depend_on_batching(tmp_path):
    assert completion_mask(torch.tensor([[5, 1, 7], [5, 6, 7]]), {1}).tolist() == \
        [[1, 1, 0], [1, 1, 1]]
    trainer = _trainer(tmp_path)
    try:
        groups = sample(trainer.model, trainer.tokenizer, ["add", "sum"],
                        ["fix the add", "fix the sum function now"],
                        SamplingConfig(group_size=3, max_new_tokens=4), trainer.device)
        fill_logprobs(trainer.model, groups, 1.0, 0, trainer.device, micro_batch=6)
        together = [g.old_logp.clone() for g in groups]
        fill_logprobs(trainer.model, groups, 1.0, 0, trainer.device, micro_batch=1)
    finally:
        trainer.close()
    for g, t in zip(groups, together, strict=True):
        assert g.completion_ids.shape == (3, 4)
        assert torch.allclose(g.old_logp * g.completion_mask, t * g.completion_mask,
                              atol=1e-5)
    batch = collate([(torch.tensor([3, 4]), torch.tensor([8, 1]), torch.tensor([1, 1])),
                     (torch.tensor([3]), torch.tensor([9]), torch.tensor([1]))], 0,
                    torch.device("cpu"))
    assert batch.input_ids.tolist() == [[3, 4, 8, 1], [0, 3, 9, 0]]
    assert batch.position_ids.tolist()[1][1:3] == [0, 1]
