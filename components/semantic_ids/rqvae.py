"""RQ-VAE (the TIGER paper's quantizer): an autoencoder whose latent is residually quantized.

Imported only when a codebook uses it, so the default path never loads torch for quantization.
Codebooks start from RQ-KMeans on the initial latents, as in TIGER, so no code starts dead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from components.semantic_ids.quantize import RqKMeans


@dataclass(frozen=True)
class RqVaeTraining:
    hidden_dim: int = 128
    latent_dim: int = 32
    epochs: int = 200
    batch_size: int = 1024
    learning_rate: float = 1e-3
    commitment: float = 0.25  # beta: pulls the encoder towards its chosen codes


class RqVaeNetwork(nn.Module):
    def __init__(
        self, input_dim: int, hidden_dim: int, latent_dim: int, levels: int, size: int
    ) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim)
        )
        self.codebooks = nn.Parameter(torch.zeros(levels, size, latent_dim))

    def quantize(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes (n, levels) and the chosen codewords (levels, n, latent_dim)."""
        residual, codes, chosen = latent, [], []
        for codebook in self.codebooks:
            code = torch.cdist(residual, codebook).argmin(dim=1)
            codes.append(code)
            chosen.append(codebook[code])
            residual = residual - chosen[-1]
        return torch.stack(codes, dim=1), torch.stack(chosen)

    def loss(self, inputs: torch.Tensor, commitment: float) -> torch.Tensor:
        latent = self.encoder(inputs)
        _, chosen = self.quantize(latent)
        # Per level (as in TIGER): the codebook term moves codewords to the residuals they
        # quantize, the commitment term moves the residuals towards their codewords.
        residuals = latent - (torch.cumsum(chosen, dim=0) - chosen)
        vq_loss = functional.mse_loss(chosen, residuals.detach()) + commitment * (
            functional.mse_loss(residuals, chosen.detach())
        )
        quantized = chosen.sum(dim=0)
        straight_through = latent + (quantized - latent).detach()
        return functional.mse_loss(self.decoder(straight_through), inputs) + vq_loss


@dataclass(frozen=True)
class RqVae:
    kind: ClassVar[str] = "rq-vae"
    network: RqVaeNetwork

    @property
    def levels(self) -> int:
        return int(self.network.codebooks.shape[0])

    @property
    def size(self) -> int:
        return int(self.network.codebooks.shape[1])

    @torch.no_grad()
    def codes(self, vectors: np.ndarray) -> np.ndarray:
        codes, _ = self.network.quantize(self.network.encoder(_tensor(vectors)))
        return codes.numpy().astype(np.int32)

    @torch.no_grad()
    def error(self, vectors: np.ndarray) -> float:
        latent = self.network.encoder(_tensor(vectors))
        distances = torch.cdist(latent, self.network.codebooks[0]).min(dim=1).values
        return float((distances.double() ** 2).mean())

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        levels: int,
        size: int,
        seed: int,
        training: RqVaeTraining | None = None,
    ) -> RqVae:
        training = training or RqVaeTraining()
        torch.manual_seed(seed)
        network = RqVaeNetwork(
            vectors.shape[1], training.hidden_dim, training.latent_dim, levels, size
        )
        inputs = _tensor(vectors)
        with torch.no_grad():
            latent = network.encoder(inputs).numpy()
            initial = RqKMeans.fit(latent, levels, size, seed).centroids
            network.codebooks.copy_(torch.from_numpy(initial))
        optimizer = torch.optim.Adam(network.parameters(), lr=training.learning_rate)
        shuffle = torch.Generator().manual_seed(seed)
        with _single_thread():
            for _ in range(training.epochs):
                for batch in torch.randperm(len(inputs), generator=shuffle).split(
                    training.batch_size
                ):
                    optimizer.zero_grad()
                    network.loss(inputs[batch], training.commitment).backward()
                    optimizer.step()
        return cls(network.eval())

    def tensors(self) -> dict[str, np.ndarray]:
        return {name: value.detach().numpy() for name, value in self.network.state_dict().items()}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> RqVae:
        levels, size, latent_dim = tensors["codebooks"].shape
        hidden_dim, input_dim = tensors["encoder.0.weight"].shape
        network = RqVaeNetwork(input_dim, hidden_dim, latent_dim, levels, size)
        network.load_state_dict({name: torch.from_numpy(value) for name, value in tensors.items()})
        return cls(network.eval())


@contextmanager
def _single_thread() -> Iterator[None]:
    """Torch on one thread: batches this small cost more to hand between threads than to
    compute, all the more on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _tensor(vectors: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
