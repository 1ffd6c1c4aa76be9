"""The training methods, one row each: what its loss holds and which samples its reward reaches.

Every other module asks this table (the trainer's loss and gate, run keys, the CLI's choices,
the experiment's names); adding a method is adding a row and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingMethod:
    name: str
    summary: str
    nll_anchor: bool = True  # the loss keeps the supervised next-item NLL
    reinforced: bool = True  # the loss has a GRPO term on rollouts rewarded by rl.reward
    weighted: bool = True  # that term is scaled by rl.grpo_weight (lambda, in the run key)
    difficulty: bool = False  # the term reaches only samples the policy finds difficult
    discriminability: bool = False  # ... only those whose rollouts the ranker tells apart


SFT = "nll"
METHODS: dict[str, TrainingMethod] = {
    method.name: method
    for method in (
        TrainingMethod(
            SFT,
            "supervised fine-tuning (SFT; continued SFT when started from --init)",
            reinforced=False,
            weighted=False,
        ),
        TrainingMethod("mix", "NLL + lambda x GRPO on every sample"),
        TrainingMethod("grpo", "GRPO alone", nll_anchor=False, weighted=False),
        TrainingMethod(
            "adagrpo",
            "NLL + lambda x GRPO gated per sample by difficulty and discriminability",
            difficulty=True,
            discriminability=True,
        ),
        TrainingMethod("adagrpo-difficulty", "AdaGRPO gated by difficulty alone", difficulty=True),
        TrainingMethod(
            "adagrpo-discriminability",
            "AdaGRPO gated by discriminability alone",
            discriminability=True,
        ),
    )
}


def training_method(name: str) -> TrainingMethod:
    """The row of ``name``; a ValueError listing the methods for any other."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; the methods are {', '.join(METHODS)}") from None


def described() -> str:
    """Every method and what it does, for the setting's description."""
    return "; ".join(f"{m.name}: {m.summary}" for m in METHODS.values())
