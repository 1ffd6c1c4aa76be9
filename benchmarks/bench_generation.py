"""Generation speed: our SID decoder's rollout sampling and beam search against Hugging Face
``generate`` on a GPT-2 of the same size. Goals: at least 3x for sampling, 2x for beam search.

The comparison is like for like: both models have random weights and the same layers, heads and
width, the same token vocabulary (every position's codes plus BOS and PAD) and an output head of
their own (GPT-2's untied from its embeddings, as ours is), and they decode the same batch of
full-length histories (20 items, 80 tokens, then BOS) with a KV cache, 4 new tokens each (ours
also adds its SID-prefix embedding to each token, as the pipeline's default model does). Both
run in one process, on the same threads, under ``torch.inference_mode``, after one warm-up each,
reporting the median of a few repetitions. Differences that remain are the point of our design:
we encode the history once per user and share it across samples or beams, and score each step
against that position's 256 codes only, where GPT-2 copies the prompt cache per sequence and
scores the whole vocabulary.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from components.core.config import PolicyModelConfig
from components.policy.generation import beam_search, sample
from components.policy.model import Policy, PolicyConfig

# The pipeline's default model, SID-prefix table included (a lookup per token: rows, not compute).
CONFIG = PolicyConfig(
    vocab_sizes=(256, 256, 256, 256),
    max_history_items=20,
    prefix_buckets=PolicyModelConfig().prefix_buckets,
)
BATCH = 256
SAMPLES = 8  # G rollouts per user
BEAM_WIDTH = 10
REPEATS = 3
GOALS = {"sample": 3.0, "beam_search": 2.0}
SEED = 0


def run(workdir: Path) -> dict[str, Any]:
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(SEED)
    ours = Policy(CONFIG).eval()
    hf = GPT2LMHeadModel(
        GPT2Config(
            n_layer=CONFIG.n_layer,
            n_head=CONFIG.n_head,
            n_embd=CONFIG.d_model,
            vocab_size=ours.pad_id + 1,
            n_positions=CONFIG.block_size,
            bos_token_id=ours.bos_id,
            eos_token_id=None,  # no end token: every sequence runs the full 4 tokens
            pad_token_id=ours.pad_id,
            tie_word_embeddings=False,
        )
    ).eval()
    history = torch.randint(0, 256, (BATCH, CONFIG.max_history_tokens))
    # The same tokens as GPT-2 ids: the code plus its position's offset, then BOS.
    position = torch.arange(CONFIG.max_history_tokens) % CONFIG.tokens_per_item
    bos = torch.full((BATCH, 1), ours.bos_id)
    input_ids = torch.cat([history + ours.offsets[position], bos], dim=1)
    common: dict[str, Any] = {"max_new_tokens": CONFIG.tokens_per_item, "use_cache": True}
    common |= {"attention_mask": torch.ones_like(input_ids)}  # no padding: full histories
    common |= {"pad_token_id": ours.pad_id, "eos_token_id": None}

    cases = {
        "sample": (
            lambda: sample(ours, history, num_samples=SAMPLES),
            lambda: hf.generate(
                input_ids, do_sample=True, num_return_sequences=SAMPLES, top_k=0,
                temperature=1.0, **common,
            ),
            SAMPLES,
        ),
        "beam_search": (
            lambda: beam_search(ours, history, beam_width=BEAM_WIDTH),
            lambda: hf.generate(
                input_ids, num_beams=BEAM_WIDTH, num_return_sequences=BEAM_WIDTH,
                do_sample=False, early_stopping=False, length_penalty=0.0, **common,
            ),
            BEAM_WIDTH,
        ),
    }  # fmt: skip
    results: dict[str, Any] = {
        "batch": BATCH,
        "history_tokens": CONFIG.max_history_tokens,
        "threads": torch.get_num_threads(),
        "params": {
            "ours": _params(ours),
            "ours_prefix_table": _params(ours.prefix_emb) if ours.prefix_emb else 0,
            "hf_gpt2": _params(hf),
        },
        "hf_attention": hf.config._attn_implementation,
    }
    for name, (ours_fn, hf_fn, per_user) in cases.items():
        ours_s, ours_out = _median_seconds(ours_fn)
        hf_s, hf_out = _median_seconds(hf_fn)
        assert ours_out.items.shape == (BATCH, per_user, CONFIG.tokens_per_item)
        assert hf_out.shape == (BATCH * per_user, input_ids.shape[1] + CONFIG.tokens_per_item)
        speedup = hf_s / ours_s
        results[name] = {
            "per_user": per_user,
            "ours_s_per_batch": round(ours_s, 4),
            "hf_s_per_batch": round(hf_s, 4),
            "ours_users_per_s": round(BATCH / ours_s),
            "hf_users_per_s": round(BATCH / hf_s),
            "speedup": round(speedup, 2),
            "goal": GOALS[name],
            "goal_met": speedup >= GOALS[name],
        }
    return results


def _median_seconds(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Median wall time of ``REPEATS`` calls after one warm-up, and the last call's output."""
    with torch.inference_mode():
        out = fn()
        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - started)
    return statistics.median(times), out


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        print(json.dumps(run(Path(scratch)), indent=2))
