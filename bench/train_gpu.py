"""The trainer on a GPU: update throughput, overlap, and TRL's GRPOTrainer side by side.

Prepared for one H200 (no network; at most 64 MiB travels with the run, so the
weights are random, built from SmolLM2-135M's config, and the tokenizer is made
locally: throughput does not depend on what the weights say). Three measurements,
each printed as one JSON line and all together at the end:

1. ``update``: forward + backward + AdamW on ``batch × seq`` tokens (32 × 768 by
   default, the issue's anchor shape) through the trainer's own update
   (:meth:`lanser.train.loop.Trainer.update`: clipped token-level loss, bf16
   autocast), against a plain causal-LM cross-entropy step on the same shape
   (the anchor's measurement). Goal: trainer ≥ 80 % of the plain tokens/s.
2. ``overlap``: full trainer steps whose reward source sleeps as long per group as a
   CPU scorer would (``--score-s``), in scoring threads: a step should take
   ≤ 1.15 × max(generation, scoring) plus the update.
3. ``trl``: TRL's ``GRPOTrainer`` on the same model, prompts, group size, completion
   length and reward function; seconds per step and completions/s beside ours.

    python bench/train_gpu.py                   # the H200 run (about 5 minutes)
    python bench/train_gpu.py --tiny            # a CPU smoke run at toy size (~1 minute)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SMOLLM2_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                    num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                    max_position_embeddings=8192, rope_theta=100000.0,
                    tie_word_embeddings=True)
TINY = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
            tie_word_embeddings=True)


def emit(record: dict) -> None:
    print(json.dumps(record, sort_keys=True), flush=True)


def build(shape: dict, device, seed: int = 0):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    config = LlamaConfig(**shape, pad_token_id=0, eos_token_id=1, bos_token_id=None,
                         attention_dropout=0.0)
    config._attn_implementation = "sdpa"
    model = LlamaForCausalLM(config).to(device)
    vocab = {"[pad]": 0, "[eos]": 1, "[unk]": 2,
             **{f"w{i}": i for i in range(3, shape["vocab_size"])}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[unk]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[pad]", eos_token="[eos]",
                                  unk_token="[unk]")
    tok.padding_side = "left"
    return model, tok


def prompt_text(i: int, words: int, vocab: int) -> str:
    return " ".join(f"w{3 + (i * 7919 + k * 104729) % (vocab - 3)}" for k in range(words))


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_update(args, shape, device) -> dict:
    """Tokens/s of the trainer's update vs a plain LM step, same shape, same model."""
    import torch

    from lanser.train.loop import TrainConfig, Trainer
    from lanser.train.rollout import Group

    model, tok = build(shape, device)
    cfg = TrainConfig(epochs=1, micro_batch=args.micro_batch, device=device.type,
                      lr=1e-6, gradient_checkpointing=args.grad_ckpt)
    trainer = Trainer(model, tok, [], None, cfg)  # type: ignore[arg-type]
    p_len, t_len = args.seq // 2, args.seq - args.seq // 2
    gen = torch.Generator().manual_seed(0)
    groups = []
    for i in range(args.batch):
        ids = torch.randint(3, shape["vocab_size"], (1, t_len), generator=gen)
        groups.append(Group(f"t{i}", torch.randint(3, shape["vocab_size"], (p_len,),
                                                   generator=gen),
                            ids, torch.ones_like(ids), [""], torch.full((1, t_len), -5.0)))
    adv = torch.randn(args.batch, 1, generator=gen)

    def ours() -> None:
        trainer.update(groups, adv)

    plain_opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    data = torch.randint(3, shape["vocab_size"], (args.batch, args.seq), generator=gen)

    def plain() -> None:
        for start in range(0, args.batch, args.micro_batch):
            x = data[start:start + args.micro_batch].to(device)
            ctx = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" \
                else torch.autocast("cpu", enabled=False)
            with ctx:
                loss = model(input_ids=x, labels=x).loss * x.shape[0] / args.batch
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        plain_opt.step()
        plain_opt.zero_grad(set_to_none=True)

    out = {}
    for name, fn in (("plain", plain), ("trainer", ours), ("plain", plain), ("trainer", ours)):
        fn()  # warm-up (kernels, allocator), then timed repeats
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            fn()
        sync(device)
        seconds = (time.perf_counter() - t0) / args.repeats
        out[f"{name}_tokens_per_s"] = round(args.batch * args.seq / seconds)
    trainer.close()
    out["trainer_vs_plain"] = round(out["trainer_tokens_per_s"] / out["plain_tokens_per_s"], 3)
    out.update(batch=args.batch, seq=args.seq, micro_batch=args.micro_batch)
    if device.type == "cuda":
        out["gpu_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return out


class SleepyReward:
    """A reward source that costs what a CPU scorer costs: ``seconds`` per group."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def score_group(self, instance_id, completions):
        from lanser.train.rewards import Score

        time.sleep(self.seconds)
        return [Score(float(len(c) % 7) / 7) for c in completions]

    def trl(self, prompts, completions, **_):
        # TRL calls this once per generation batch (all groups): the same total cost.
        time.sleep(self.seconds * max(len(completions) // max(args_group[0], 1), 1))
        return [float(len(c) % 7) / 7 for c in completions]


args_group = [8]


def bench_overlap(args, shape, device) -> dict:
    """Full trainer steps with a slow scorer: chunked overlap, then one step ahead."""
    return {"chunked": _overlap(args, shape, device, False),
            "lookahead": _overlap(args, shape, device, True)}


def _overlap(args, shape, device, lookahead: bool) -> dict:
    from lanser.train.loop import TrainConfig, Trainer
    from lanser.train.rollout import SamplingConfig
    from lanser.train.tasks import TrainTask

    model, tok = build(shape, device)
    tasks = [TrainTask(f"t{i}", prompt_text(i, args.prompt_words, shape["vocab_size"]),
                       Path(".")) for i in range(args.tasks_per_step * 4)]
    cfg = TrainConfig(steps=args.steps, tasks_per_step=args.tasks_per_step, epochs=1,
                      micro_batch=args.micro_batch, device=device.type, lr=1e-6,
                      prompt_budget=args.prompt_words * 2, checkpoint_every=0,
                      score_workers=args.score_workers, gen_chunk=args.gen_chunk,
                      lookahead=lookahead,
                      sampling=SamplingConfig(group_size=args.group, temperature=1.0,
                                              max_new_tokens=args.new_tokens))
    trainer = Trainer(model, tok, tasks, SleepyReward(args.score_s), cfg)
    try:
        steps = [r.metrics for r in trainer.run()]
    finally:
        trainer.close()
    last = steps[1:] or steps  # the first step compiles kernels
    mean = {k: sum(m[k] for m in last) / len(last) for k in
            ("generate_s", "logprob_s", "score_busy_s", "score_wait_s", "update_s", "step_s")}
    bound = max(mean["generate_s"], mean["score_busy_s"] / max(args.score_workers, 1))
    return {**{k: round(v, 3) for k, v in mean.items()},
            "step_over_max_gen_score": round(mean["step_s"] / bound, 3),
            "step_minus_update_over_max": round((mean["step_s"] - mean["update_s"]) / bound, 3),
            "completions_per_s": round(args.tasks_per_step * args.group / mean["step_s"], 2),
            "tasks_per_step": args.tasks_per_step, "group": args.group,
            "new_tokens": args.new_tokens, "score_s_per_group": args.score_s}


def bench_trl(args, shape, device) -> dict:
    """TRL's GRPOTrainer on the same model, prompts, group and reward cost."""
    try:
        import trl
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer
    except ImportError as exc:
        return {"skipped": f"trl not importable: {exc}"}
    import tempfile

    model, tok = build(shape, device)
    n = args.tasks_per_step
    data = Dataset.from_dict({"prompt": [prompt_text(i, args.prompt_words, shape["vocab_size"])
                                         for i in range(n * (args.steps + 2))]})
    args_group[0] = args.group
    reward = SleepyReward(args.score_s)

    def reward_fn(prompts, completions, **kw):
        return reward.trl(prompts, completions, **kw)

    with tempfile.TemporaryDirectory() as tmp:
        config = GRPOConfig(
            output_dir=tmp, per_device_train_batch_size=n * args.group,
            num_generations=args.group, max_completion_length=args.new_tokens,
            max_steps=args.steps, learning_rate=1e-6, logging_steps=1, report_to="none",
            save_strategy="no", bf16=device.type == "cuda", use_cpu=device.type == "cpu",
            temperature=1.0, beta=0.0, epsilon=0.2, epsilon_high=0.28, scale_rewards="none",
            loss_type="dapo", num_iterations=1, gradient_checkpointing=args.grad_ckpt,
            dataloader_num_workers=0, seed=0)
        trainer = GRPOTrainer(model=model, reward_funcs=[reward_fn], args=config,
                              train_dataset=data, processing_class=tok)
        times: list[float] = []

        from transformers import TrainerCallback

        class Clock(TrainerCallback):
            def on_step_begin(self, *a, **k):
                sync(device)
                self.t0 = time.perf_counter()

            def on_step_end(self, *a, **k):
                sync(device)
                times.append(time.perf_counter() - self.t0)

        trainer.add_callback(Clock())
        trainer.train()
    last = times[1:] or times
    step_s = sum(last) / max(len(last), 1)
    return {"trl_version": trl.__version__, "step_s": round(step_s, 3),
            "completions_per_s": round(n * args.group / step_s, 2), "steps": len(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="toy sizes, CPU: a smoke run")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=768)
    parser.add_argument("--micro-batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--tasks-per-step", type=int, default=32)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--prompt-words", type=int, default=256)
    parser.add_argument("--score-s", type=float, default=0.5,
                        help="seconds the stand-in scorer takes per group")
    parser.add_argument("--score-workers", type=int, default=16)
    parser.add_argument("--gen-chunk", type=int, default=8)
    parser.add_argument("--grad-ckpt", action="store_true")
    parser.add_argument("--only", default="update,overlap,trl")
    parser.add_argument("--out", type=Path, default=None, help="write the summary JSON here")
    args = parser.parse_args()
    import torch

    shape = TINY if args.tiny else SMOLLM2_135M
    if args.tiny:
        args.batch, args.seq, args.micro_batch, args.repeats = 4, 64, 4, 2
        args.steps, args.tasks_per_step, args.group, args.new_tokens = 2, 2, 4, 8
        args.prompt_words, args.score_s, args.score_workers, args.gen_chunk = 16, 0.05, 2, 1
    from lanser.train.loop import pick_device

    device = pick_device(args.device)
    summary: dict = {"device": torch.cuda.get_device_name() if device.type == "cuda" else
                     platform.processor() or "cpu", "torch": torch.__version__,
                     "weights": "random (SmolLM2-135M config)" if not args.tiny else "tiny"}
    import transformers

    summary["transformers"] = transformers.__version__
    emit({"phase": "start", **summary})
    for name, fn in (("update", bench_update), ("overlap", bench_overlap), ("trl", bench_trl)):
        if name not in args.only.split(","):
            continue
        t0 = time.perf_counter()
        try:
            summary[name] = fn(args, shape, device)
        except Exception as exc:  # one failed part must not lose the others' figures
            summary[name] = {"error": f"{type(exc).__name__}: {exc}"}
        summary[name]["wall_s"] = round(time.perf_counter() - t0, 1)
        emit({"phase": name, **summary[name]})
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    emit({"phase": "done", **summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
