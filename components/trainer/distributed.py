"""One process per device: plain CPU/GPU runs, or ``torchrun`` DDP when WORLD_SIZE > 1."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

Rows = TypeVar("Rows", Tensor, np.ndarray)


@dataclass(frozen=True)
class Workers:
    rank: int
    world: int
    device: torch.device

    @classmethod
    def start(cls, device: str) -> Workers:
        """This process's place among the workers; joins the process group under torchrun."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if world == 1:
            return cls(0, 1, torch.device(device))
        local_rank = int(os.environ["LOCAL_RANK"])
        on_gpu = device.startswith("cuda")
        if on_gpu:
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if on_gpu else "gloo")
        chosen = torch.device("cuda", local_rank) if on_gpu else torch.device("cpu")
        return cls(dist.get_rank(), dist.get_world_size(), chosen)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: Rows) -> Rows:
        """This worker's rows of a global batch."""
        return batch[self.rank :: self.world]

    def rng_states(self) -> dict[str, Tensor]:
        """Every worker's RNG states (dropout), gathered so that rank 0 can save them."""
        mine = {f"rank{self.rank}.cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            mine[f"rank{self.rank}.cuda"] = torch.cuda.get_rng_state(self.device)
        if self.world == 1:
            return mine
        gathered: list[dict[str, Tensor] | None] = [None] * self.world
        dist.all_gather_object(gathered, mine)
        return {name: state for states in gathered if states for name, state in states.items()}

    def restore_rng(self, states: dict[str, Tensor]) -> bool:
        """Restore this worker's RNG states; False when the checkpoint has none for its rank."""
        cpu = states.get(f"rank{self.rank}.cpu")
        if cpu is None:
            return False
        torch.set_rng_state(cpu)
        cuda = states.get(f"rank{self.rank}.cuda")
        if cuda is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(cuda, self.device)
        return True

    def pooled(self, values: Tensor, width: int) -> Tensor:
        """Every worker's 1-D float ``values``, each padded with NaN to ``width`` (the largest
        share), in rank order: the whole batch's values, for a statistic over them. One
        worker: ``values`` as they are."""
        if self.world == 1:
            return values
        padded = torch.full((width,), float("nan"), dtype=values.dtype, device=self.device)
        padded[: len(values)] = values
        gathered = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(gathered, padded)
        return torch.cat(gathered).to(values.device)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def stop(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()
