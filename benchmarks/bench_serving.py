"""``adagrpo serve`` latency and throughput on this machine, at batch 1 and batch 64.

A demo-sized model (the default policy: 4 layers, width 128, the 65,536-row SID-prefix table;
5,000 items on 3 codes of 256 and a de-duplication token) is registered in a local registry
and served over HTTP on loopback by the real service (uvicorn, FastAPI). Requests carry 10 items
of history and ask for the top 10, beam 20; each call is timed from the client, sequentially.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from safetensors.torch import save as save_tensors

from components.core.config import PolicyModelConfig, RegistryConfig, ServingConfig
from components.policy.model import Policy, PolicyConfig
from components.registry.artifacts import CATALOG, POLICY, WEIGHTS
from components.registry.store import ModelRegistry
from components.serving.service import build_app, in_thread
from components.trainer.checkpoints import policy_config_json

ITEMS, VOCAB, HISTORY = 5_000, (256, 256, 256, 8), 10
CALLS = {1: 300, 64: 30}  # timed calls per batch size


def register_demo_sized_model(root: Path) -> RegistryConfig:
    rng = np.random.default_rng(0)
    codes = rng.choice(256**3, ITEMS, replace=False)
    sids = np.stack([codes // 65536, (codes // 256) % 256, codes % 256, np.zeros(ITEMS)], 1)
    catalog = pa.table({
        "item_id": pa.array(np.arange(1, ITEMS + 1), pa.int64()),
        "sid": pa.array(sids.astype(np.int32).tolist(), pa.list_(pa.int32())),
        "listed": np.ones(ITEMS, dtype=bool),
    })  # fmt: skip
    buffer = io.BytesIO()
    pq.write_table(catalog, buffer)
    torch.manual_seed(0)
    shape = PolicyConfig(vocab_sizes=VOCAB, **PolicyModelConfig().model_dump(exclude={"dropout",
                         "prefix_dropout"}))  # fmt: skip
    policy = Policy(shape)
    settings = RegistryConfig(root=str(root / "registry"))
    registry = ModelRegistry.open(settings)
    files: dict[str, bytes | dict[str, Any]] = {
        WEIGHTS: save_tensors({k: v.contiguous() for k, v in policy.state_dict().items()}),
        POLICY: policy_config_json(shape),
        CATALOG: buffer.getvalue(),
    }
    version, _ = registry.register("bench/serving", files, {"sid_version": 1})
    if registry.aliases()["champion"] != version.number:
        registry.set_alias("champion", version.number, "bench", "serving benchmark")
    return settings


def run(workdir: Path) -> dict[str, Any]:
    app = build_app(register_demo_sized_model(workdir), ServingConfig(), None)
    rng = np.random.default_rng(1)
    results: dict[str, Any] = {"torch_threads": torch.get_num_threads(), "beam": 20, "k": 10}
    with in_thread(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        for batch, calls in CALLS.items():
            requests = [
                [{"user_id": int(u), "history": rng.integers(1, ITEMS, HISTORY).tolist(),
                  "k": 10} for u in rng.integers(0, 10**6, batch)]
                for _ in range(calls + 3)
            ]  # fmt: skip
            seconds = []
            for number, body in enumerate(requests):
                started = time.perf_counter()
                client.post("/recommend", json={"requests": body}).raise_for_status()
                if number >= 3:  # the first calls warm up
                    seconds.append(time.perf_counter() - started)
            p50, p99 = np.quantile(seconds, [0.5, 0.99])
            results[f"batch_{batch}"] = {
                "calls": calls,
                "p50_ms": round(1000 * float(p50), 1),
                "p99_ms": round(1000 * float(p99), 1),
                "users_per_s": round(batch * len(seconds) / sum(seconds), 1),
            }
    return results
