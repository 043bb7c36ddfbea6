"""lanser's reward inside a real TRL GRPOTrainer run (tiny random model, no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("torch")

from scoring_repo import make_task

from lanser.scoring import Scorer
from lanser.scoring.adapters import trl_reward_func

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow


def _tokenizer():
    """A character-level tokenizer built here (no hub)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789 +-@\n<>=_./`"))
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(chars)}}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", eos_token="<eos>",
                                  unk_token="<unk>")
    tok.chat_template = None
    return tok


@pytest.mark.slow
def test_grpo_trainer_logs_lanser_rewards(tmp_path: Path):
    import torch
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    torch.manual_seed(0)
    task = make_task(tmp_path / "repo")
    tok = _tokenizer()
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, bos_token_id=1))
    data = Dataset.from_list([{"prompt": "fix add", "instance_id": task.instance_id}] * 4)
    seen: list[float] = []
    with Scorer([task], "diagnostics-only", workers=1) as scorer:
        lanser = trl_reward_func(scorer)

        def reward(prompts, completions, **columns):
            out = lanser(prompts, completions, **columns)
            seen.extend(out)
            return out

        reward.__name__ = "lanser"
        args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=2,
                          num_generations=2, max_completion_length=8, max_steps=1,
                          logging_steps=1, report_to=[], use_cpu=True, save_strategy="no",
                          bf16=False, fp16=False, learning_rate=1e-3)
        trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=[reward],
                              args=args, train_dataset=data)
        trainer.train()
        direct = [scorer.score(task.instance_id, c).reward for c in ("", "@@ x")]
    logged = [h for h in trainer.state.log_history if "rewards/lanser/mean" in h]
    assert logged and seen
    assert logged[0]["rewards/lanser/mean"] == pytest.approx(sum(seen[:2]) / 2)
    # A random policy writes no edit: the profile's invalid penalty, as scored directly.
    assert set(seen) == {-0.1} and set(direct) == {-0.1}
    assert any("lanser/safety" in h for h in trainer.state.log_history)
