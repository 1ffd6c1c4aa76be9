"""Two real gloo workers (processes on loopback): each worker's share of a batch pools back into
the whole batch's values, whatever the shares hold."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from components.trainer.distributed import Workers
from components.trainer.gate import Thresholds

BATCH = torch.tensor([0.9, 0.1, 0.5, 0.7, 0.3])  # 5 samples: shares of 3 and 2


def _pool_in_worker(rank: int, rendezvous: str, out: str) -> None:
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=2)
    try:
        workers = Workers(rank, 2, torch.device("cpu"))
        pooled = workers.pooled(workers.shard(BATCH), width=3)
        empty = workers.pooled(BATCH[:0] if rank else BATCH[:2], width=2)  # rank 1 holds none
        threshold = Thresholds(0.5, 0.25, 0.5, 0.8, tau_prob_quantile=0.5).value(
            "tau_prob", workers.shard(BATCH), lambda v: workers.pooled(v, width=3)
        )
        found = {"pooled": pooled, "empty": empty, "threshold": torch.tensor(threshold)}
        save_file(found, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_two_workers_pool_their_shares_into_the_batch(tmp_path: Path) -> None:
    out = str(tmp_path / "pooled")
    mp.spawn(_pool_in_worker, args=(f"file://{tmp_path / 'store'}", out), nprocs=2)

    for rank in (0, 1):
        result = load_file(f"{out}.{rank}")
        pooled = result["pooled"]
        assert sorted(pooled[~pooled.isnan()].tolist()) == sorted(BATCH.tolist())
        assert pooled.isnan().sum() == 1  # rank 1's share of 2, padded to 3
        empty = result["empty"]
        assert empty[~empty.isnan()].tolist() == BATCH[:2].tolist()
        # The median of the whole batch, as one process takes it, on both workers.
        assert result["threshold"].item() == Thresholds(
            0.5, 0.25, 0.5, 0.8, tau_prob_quantile=0.5
        ).value("tau_prob", BATCH)
