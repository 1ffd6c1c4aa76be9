"""``adagrpo experiment`` as a real process on the tiny shop: every method from one evaluated
SFT run over two seeds, the comparison, the truth-optimal distance, and a rerun that trains
nothing and records each try once."""

from __future__ import annotations

import json
from pathlib import Path

from components.core.config import load_config
from components.core.layout import run_key
from tests.integration.test_train_policy import (
    DS,
    adagrpo,
    fresh_root,
    needs_dataset,
    succeeded,
    train_args,
)

SFT = ("train.epochs=2", "train.batch_size=32", "train.checkpoint_every=4")
SETTINGS = (
    *SFT,
    "rl.steps=4",
    "rl.checkpoint_every=2",
    "rl.batch_size=32",
    "rl.group_size=4",
    "rl.ema_decay=0.5",
    "rl.reward=ranker",
    "evaluate.valid_users=40",
    "evaluate.test_users=40",
)


def experiment(root: Path) -> tuple[dict, str]:  # type: ignore[type-arg]
    overrides = [arg for setting in SETTINGS for arg in ("--set", setting)]
    result = succeeded(
        adagrpo(
            *("experiment", "--root", str(root), "--ds", DS),
            *("--methods", "nll,mix:0.5,adagrpo", "--seeds", "2", *overrides),
            timeout=900,
        )
    )
    comparison = json.loads((root / f"comparison/dt={DS}/comparison.json").read_text())
    return comparison, result.stderr


@needs_dataset
def test_experiment_compares_every_method_from_one_sft_run(
    tiny_ranked: Path, tmp_path: Path
) -> None:
    root = fresh_root(tiny_ranked, tmp_path / "root")
    refused = adagrpo("experiment", "--root", str(root), "--ds", DS, "--methods", "nll,magic")
    assert refused.returncode == 2 and "unknown method 'magic'" in refused.stderr
    untrained = adagrpo("experiment", "--root", str(root), "--ds", DS, "--seeds", "1")
    assert untrained.returncode == 2
    assert f"adagrpo train --ds {DS} --method nll" in untrained.stderr
    succeeded(adagrpo(*train_args(root, *SFT)))  # evaluated by the experiment, like every run

    comparison, _ = experiment(root)

    runs = comparison["runs"]
    recipe = load_config(overrides=SETTINGS, environ={}).rl
    half = recipe.model_copy(update={"grpo_weight": 0.5})
    assert [(r["run"], r["seed"]) for r in runs] == [  # seed by seed
        (run_key(method, rl, seed, from_init=True), seed)
        for seed in (0, 1)
        for method, rl in (("nll", recipe), ("mix", half), ("adagrpo", recipe))
    ]
    assert runs[1]["run"] == "method=mix,lambda=0.5,reward=ranker,sample=4,ema=0.5"
    for run in runs:
        spec = json.loads((root / f"models/policy/dt={DS}/{run['run']}/spec.json").read_text())
        assert spec["init"] == {k: comparison["sft"][k] for k in ("run", "step", "model_sha256")}
        assert spec["rl"]["steps"] == 4 and run["final"]["step"] == 4
        assert run["best"]["step"] in (2, 4)
        assert run["best"]["truth_ratio"] > 0  # the tiny shop is simulated
    assert [v["variant"] for v in comparison["variants"]] == ["nll", "mix:0.5", "adagrpo:1"]
    for variant in comparison["variants"]:
        hr = variant["best"]["hr"]
        seeds = [r["best"]["hr"] for r in runs if r["variant"] == variant["variant"]]
        assert hr["mean"] == sum(seeds) / 2 and hr["std"] >= 0
    sft = json.loads(
        (root / f"models/policy/dt={DS}/method=nll/evaluation/summary.json").read_text()
    )
    assert sft["users"] == {"valid": 40, "test": 40}  # scored on the runs' users
    assert comparison["answer"]["best_mixture"] == "mix:0.5"
    assert "AdaGRPO's test HR@10" in comparison["answer"]["text"]
    assert len(comparison["tries"]) == 6
    report = (root / f"comparison/dt={DS}/report.html").read_text()
    assert "data:image/png;base64," in report and "mix:0.5" in report

    again, log = experiment(root)
    assert log.count("is already trained") == 6
    assert len(again["tries"]) == 6  # the same settings are one try each
