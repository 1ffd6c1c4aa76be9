"""``make bench-recipe``: the RL recipe chosen on the demo shop's validation split, one switch
at a time, every try recorded.

On the root ``make demo`` leaves (its evaluated SFT run and ranker), under
``configs/demo.yaml`` and ``configs/experiment.yaml`` (the budget every try gets), the stages
below run in order; each tries a few values of its switches on top of what the earlier stages
chose, one run per try (seed 0), and keeps the try whose best checkpoint has the highest
validation NDCG@10 (``adagrpo experiment``'s selection). Test numbers and the truth ratio are
recorded beside it, never used to choose. A rerun trains nothing already trained.

Results: ``benchmarks/results/recipe.json``.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.experiment import DEMO_DS, experiment_config
from benchmarks.run import write_result
from components.core import layout
from components.core.config import PipelineConfig
from components.core.storage import LocalStorage
from components.experiment.stage import run_experiment
from components.trainer.checkpoints import PolicyRun

log = logging.getLogger("adagrpo.recipe")


@dataclass(frozen=True)
class Stage:
    """One switch (or a few that go together) tried on a probe method."""

    name: str
    method: str
    weight: float | None
    tries: tuple[dict[str, Any], ...]  # rl.* settings of each try
    why: str
    chosen_for: tuple[str, ...] = field(default=())  # the settings the winner passes on
    references: tuple[dict[str, Any], ...] = ()  # tried and recorded, never chosen


STAGES = (
    Stage(
        "averaging",
        "nll",
        None,
        ({"ema_decay": 0.9}, {"ema_decay": 0.98}),
        "the weight average's decay, on the control (continued NLL): what suits a 60-step run "
        "(averaging is on by default: an SFT run that publishes averaged weights loses their "
        "smoothing to an RL run without it; no averaging is recorded as the reference)",
        ("ema_decay",),
        references=({"ema_decay": 0.0},),
    ),
    Stage(
        "rollouts and reward",
        "mix",
        1.0,
        (
            {"reward": "ranker", "rollout": "sample", "group_size": 8},
            {"reward": "ranker", "rollout": "beam", "group_size": 16},
            {"reward": "ranker-rank", "rollout": "beam", "group_size": 16},
        ),
        "the paper's sampled rollouts against MiniOneRec's beams, and the ranker's reward as "
        "scores or as ranks, on the mixture at lambda 1 (where the reward weighs most). "
        "MiniOneRec's rule reward is the reference: it does not ask the ranker, whose "
        "trustworthiness is what AdaGRPO's gate is about",
        ("reward", "rollout", "group_size"),
        references=({"reward": "hit-rank", "rollout": "beam", "group_size": 16},),
    ),
    Stage(
        "learning rate",
        "mix",
        1.0,
        ({"learning_rate": 2e-4}, {"learning_rate": 5e-5}),
        "the RL learning rate: SFT's final rate against a quarter of it",
        ("learning_rate",),
    ),
    Stage(
        "difficulty",
        "adagrpo-difficulty",
        1.0,
        tuple(
            {"difficulty": "probability", "tau_prob_quantile": share} for share in (0.25, 0.5, 0.75)
        ),
        "a difficulty half that decides (with beams, the rollout kind calls every sample "
        "difficult: G distinct items, at most one of them the truth): the least confident "
        "quarter, half or three quarters of each batch by the policy's P(truth)",
        ("difficulty", "tau_prob_quantile"),
    ),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("var/demo"), help="make demo's root")
    parser.add_argument("--ds", type=date.fromisoformat, default=DEMO_DS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    storage = LocalStorage(args.root.resolve())
    if not storage.exists(PolicyRun(storage, args.ds, layout.SFT_KEY).evaluation_summary):
        raise SystemExit(f"no evaluated SFT run of {args.ds} under {args.root}: run `make demo`")
    started = time.perf_counter()
    config = experiment_config(args.root)
    chosen: dict[str, Any] = {}
    stages = []
    for stage in STAGES:
        results = [_try(config, args.ds, stage, {**chosen, **settings}) for settings in stage.tries]
        best = max(results, key=lambda r: r["valid_ndcg"])
        for settings in stage.references:
            results.append(
                {**_try(config, args.ds, stage, {**chosen, **settings}), "reference": True}
            )
        chosen.update({name: best["settings"][name] for name in stage.chosen_for})
        log.info("recipe: %s chose %s", stage.name, {k: chosen[k] for k in stage.chosen_for})
        stages.append(
            {"stage": stage.name, "why": stage.why, "method": stage.method, "tries": results,
             "chosen": {name: chosen[name] for name in stage.chosen_for}}
        )  # fmt: skip
    result = {
        "ds": args.ds.isoformat(),
        "selected_on": "valid unconstrained ndcg@10 of the best checkpoint (seed 0)",
        "budget": {"steps": config.rl.steps, "batch_size": config.rl.batch_size},
        "stages": stages,
        "recipe": chosen,
        "runs": sum(len(s["tries"]) for s in stages),
    }
    path = write_result("recipe", result, time.perf_counter() - started)
    print(f"recipe: {chosen} -> {path}")
    return 0


def _try(
    config: PipelineConfig, ds: date, stage: Stage, settings: dict[str, Any]
) -> dict[str, Any]:
    rl = config.rl.model_copy(update=settings)
    started = time.perf_counter()
    comparison = run_experiment(
        config.model_copy(update={"rl": rl}), ds, [(stage.method, stage.weight)], seeds=1
    )
    run = comparison["runs"][0]
    best, final = run["best"], run["final"]
    return {
        "settings": {name: getattr(rl, name) for name in settings},
        "run": run["run"],
        "valid_ndcg": best["valid_ndcg"],
        "best_step": best["step"],
        "test": {name: best[name] for name in ("hr", "ndcg", "hallucination_rate")},
        "truth_ratio": best.get("truth_ratio"),
        "final_valid_ndcg": final["valid_ndcg"],
        "seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    raise SystemExit(main())
