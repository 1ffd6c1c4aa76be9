"""The rule that chooses a checkpoint on validation, shared by the evaluate stage (within a run)
and the select stage (across the day's runs), so that the checkpoint the day selects is always
one its run scored on test: the best score among the candidates whose unconstrained decoding
hallucinates on at most ``cap`` of their validation recommendations, the first of equals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Candidate = TypeVar("Candidate")


def choose(
    candidates: Sequence[Candidate],
    score: Callable[[Candidate], float],
    hallucination: Callable[[Candidate], float],
    cap: float,
) -> Candidate | None:
    """The eligible candidate of the highest ``score``, the first of equals; None if none is."""
    eligible = [candidate for candidate in candidates if hallucination(candidate) <= cap]
    return max(eligible, key=score, default=None)
