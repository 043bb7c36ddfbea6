"""A tiny causal LM and tokenizer made locally (no downloads) for the trainer's tests."""

from __future__ import annotations

from collections.abc import Sequence

import torch

# Tiny models run fastest on one thread, and the suite shares two cores.
torch.set_num_threads(1)

WORDS = ["[pad]", "[eos]", "[unk]", "fix", "the", "add", "sum", "function", "plus", "minus",
         "zero", "one", "assistant:", "user:", "system:"]


def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[unk]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[pad]", eos_token="[eos]",
                                  unk_token="[unk]")
    tok.padding_side = "left"
    return tok


def model(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(WORDS), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=128, tie_word_embeddings=True,
                         pad_token_id=0, eos_token_id=1, bos_token_id=None,
                         attention_dropout=0.0)
    return LlamaForCausalLM(config)


class EditReward:
    """One of two edits is right: a completion that says 'plus' resolves the task."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls = 0
        self.fail_at = fail_at

    def score_group(self, instance_id: str, completions: Sequence[str]):
        from lanser.train.rewards import Score

        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("scorer crashed")
        return [Score(1.0, True, "plus") if c.split()[:1] == ["plus"] else
                Score(0.0, False, "wrong") for c in completions]
