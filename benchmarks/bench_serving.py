"""``make bench-serve``: ``adagrpo serve`` under 1, 10 and 50 concurrent clients, with dynamic
micro-batching on and off, side by side in one run. Goal: at least 300 requests/s with p99 at or
under 400 ms at 50 clients on this machine, micro-batching on.

A demo-sized model (the default policy: 4 layers, width 128, the 65,536-row SID-prefix table;
5,000 items on 3 codes of 256 and a de-duplication token) is registered in a local registry and
served by the real service in its own process (``adagrpo serve --port 0``), on loopback. Each
client sends one user at a time (10 items of history, the top 10, beam 20) and waits for the
answer before the next, as a page would; latency is timed from the client, throughput is every
answer over the wall time of the level. The clients are aiohttp's, a lighter load generator than
httpx on the cores the service shares. Modes: micro-batching with the default settings (a batch
of ``serving.parallel_users`` or more decodes on every core, a smaller one on one), the same on
one thread always (``serving.torch_threads=1``), and each request decoded alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from safetensors.torch import save as save_tensors

from components.core.config import PolicyModelConfig, RegistryConfig
from components.policy.model import Policy, PolicyConfig
from components.registry.artifacts import CATALOG, POLICY, WEIGHTS
from components.registry.store import ModelRegistry
from components.trainer.checkpoints import policy_config_json

ITEMS, VOCAB, HISTORY = 5_000, (256, 256, 256, 8), 10
CLIENTS = (1, 10, 50)
REQUESTS, WARMUP = 40, 2  # timed requests per client, and its first, untimed ones
GOAL_RPS, GOAL_P99_MS = 300, 400
MODES = {
    "micro_batching": ["serving.micro_batching=true"],
    "micro_batching_1_thread": ["serving.micro_batching=true", "serving.torch_threads=1"],
    "one_by_one": ["serving.micro_batching=false"],
}


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
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    registry = register_demo_sized_model(workdir)
    results: dict[str, Any] = {"beam": 20, "k": 10, "requests_per_client": REQUESTS}
    for mode, settings in MODES.items():
        with _service(registry.root, settings) as url:
            results[mode] = {str(clients): asyncio.run(_load(url, clients)) for clients in CLIENTS}
    on = results["micro_batching"][str(max(CLIENTS))]
    results["goal"] = {"requests_per_s": GOAL_RPS, "p99_ms": GOAL_P99_MS}
    results["meets_goal"] = on["requests_per_s"] >= GOAL_RPS and on["p99_ms"] <= GOAL_P99_MS
    return results


async def _load(url: str, clients: int) -> dict[str, float]:
    """``clients`` concurrent clients, each sending ``REQUESTS`` requests in turn."""
    rng = np.random.default_rng(clients)
    latencies: list[float] = []

    async def client(http: aiohttp.ClientSession, number: int) -> None:
        for request in range(REQUESTS + WARMUP):
            body = {"user_id": number * 10_000 + request, "k": 10,
                    "history": rng.integers(1, ITEMS, HISTORY).tolist()}  # fmt: skip
            started = time.perf_counter()
            async with http.post(f"{url}/recommend", json=body) as response:
                response.raise_for_status()
                await response.read()
            if request >= WARMUP:
                latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http, number) for number in range(clients)))
        wall = time.perf_counter() - started
    p50, p99 = np.quantile(latencies, [0.5, 0.99])
    return {
        "clients": clients,
        "requests_per_s": round(clients * (REQUESTS + WARMUP) / wall, 1),
        "p50_ms": round(1000 * float(p50), 1),
        "p99_ms": round(1000 * float(p99), 1),
    }


@contextlib.contextmanager
def _service(registry: str, settings: list[str]) -> Iterator[str]:
    """``adagrpo serve`` of ``registry`` in its own process, on a free loopback port."""
    flags = [word for setting in settings for word in ("--set", setting)]
    command = [sys.executable, "-m", "components.cli", "serve", "--registry", registry,
               "--port", "0", *flags]  # fmt: skip
    service = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        line = service.stdout.readline()  # "serving on URL", once the socket listens
        if not line.startswith("serving on "):
            raise RuntimeError(f"adagrpo serve did not start: {line!r}")
        url = line.split()[-1]
        # Whatever it prints goes on to stdout: read it, or a full pipe would stall the service.
        threading.Thread(target=service.stdout.read, daemon=True).start()
        while httpx.get(f"{url}/readyz", timeout=30).status_code != 200:
            time.sleep(0.2)
        yield url
    finally:
        service.terminate()
        service.wait(timeout=30)
