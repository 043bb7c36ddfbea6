"""verl's compute_score, called exactly as verl's reward managers call it."""

from __future__ import annotations

from pathlib import Path

import pytest
from scoring_repo import FIX, NOTHING, OUTSIDE, make_task

from lanser.rewards import COMPONENTS, Profile
from lanser.scoring import Scorer
from lanser.scoring.adapters import verl_batch_compute_score, verl_compute_score

#: No server and no tests: these tests are about the call shape, so only the
#: envelope's verdict is priced (a clean edit 0, invalid -1/10, refused -1/5).
SAFETY_ONLY = Profile.from_mapping("safety-only", {
    "weights": {}, "penalties": {"invalid": "0.1", "refused": "0.2"}})
COMPLETIONS = (FIX, NOTHING, OUTSIDE)
EXPECTED = [0.0, -0.1, -0.2]


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    task = make_task(tmp_path_factory.mktemp("verl") / "repo")
    with Scorer([task], SAFETY_ONLY, workers=1) as s:
        yield s


def test_compute_score_with_naive_reward_managers_keywords(scorer):
    compute_score = verl_compute_score(scorer)
    out = [compute_score(data_source="lanser", solution_str=c, ground_truth="",
                         extra_info={"instance_id": "calc-1", "num_turns": None,
                                     "rollout_reward_scores": {}})
           for c in COMPLETIONS]
    assert [o["score"] for o in out] == EXPECTED
    # verl gathers every key into one list per batch: every sample has the same keys.
    assert {frozenset(o) for o in out} == {frozenset({"score", "failed", "resolved",
                                                      *COMPONENTS})}
    # The task id may come as the ground truth instead.
    assert compute_score("lanser", NOTHING, "calc-1")["score"] == -0.1
    assert compute_score("lanser", NOTHING, "no-such-task")["failed"] == 1.0


def test_batch_compute_score(scorer):
    batch = verl_batch_compute_score(scorer)
    out = batch(data_sources=["lanser"] * 3, solution_strs=list(COMPLETIONS),
                ground_truths=[None] * 3, extra_infos=[{"instance_id": "calc-1"}] * 3)
    assert [o["score"] for o in out] == EXPECTED


def test_inside_verls_naive_reward_manager(scorer, tmp_path: Path):
    """verl's own NaiveRewardManager over a DataProto, where verl imports (it needs ray)."""
    pytest.importorskip("verl")
    import numpy as np
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from verl import DataProto
    from verl.workers.reward_manager.naive import NaiveRewardManager

    chars = [chr(c) for c in range(32, 127)] + ["\n"]
    raw = Tokenizer(models.WordLevel({"<pad>": 0, **{c: i + 1 for i, c in enumerate(chars)}},
                                     unk_token="<pad>"))
    raw.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    raw.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>")
    prompt = tok("fix add")["input_ids"]
    responses = [tok(c)["input_ids"] for c in COMPLETIONS]
    width = max(map(len, responses))
    resp = torch.zeros(3, width, dtype=torch.long)
    mask = torch.zeros(3, len(prompt) + width, dtype=torch.long)
    for i, r in enumerate(responses):
        resp[i, :len(r)] = torch.tensor(r)
        mask[i, :len(prompt) + len(r)] = 1
    data = DataProto.from_dict(
        tensors={"prompts": torch.tensor([prompt] * 3), "responses": resp,
                 "attention_mask": mask},
        non_tensors={"data_source": np.array(["lanser"] * 3, dtype=object),
                     "reward_model": np.array([{"ground_truth": ""}] * 3, dtype=object),
                     "extra_info": np.array([{"instance_id": "calc-1"} for _ in range(3)],
                                            dtype=object)})
    manager = NaiveRewardManager(tok, 0, compute_score=verl_compute_score(scorer))
    out = manager(data, return_dict=True)
    last = [out["reward_tensor"][i, len(r) - 1].item() for i, r in enumerate(responses)]
    assert last == pytest.approx(EXPECTED)
    assert out["reward_extra_info"]["score"] == pytest.approx(EXPECTED)
