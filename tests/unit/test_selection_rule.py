"""The rule evaluate and select both choose a checkpoint by."""

from __future__ import annotations

import math

from components.selection.rule import choose

# (score, hallucination) per checkpoint, in step order.
CHECKPOINTS = [(0.30, 0.00), (0.50, 0.20), (0.40, 0.01), (0.40, 0.00)]


def chosen(cap: float) -> tuple[float, float] | None:
    return choose(CHECKPOINTS, score=lambda c: c[0], hallucination=lambda c: c[1], cap=cap)


def test_the_best_eligible_score_wins_and_the_first_of_equals_breaks_a_tie() -> None:
    assert chosen(cap=0.01) is CHECKPOINTS[2]


def test_a_tighter_cap_leaves_out_what_hallucinates_and_no_cap_takes_the_best() -> None:
    assert chosen(cap=0.0) is CHECKPOINTS[3]
    assert chosen(cap=math.inf) is CHECKPOINTS[1]


def test_nothing_is_chosen_when_every_checkpoint_hallucinates_past_the_cap() -> None:
    assert choose(CHECKPOINTS[1:3], lambda c: c[0], lambda c: c[1], cap=0.001) is None
