"""A run's key names every knob of its recipe, and the command it prints trains that run."""

from __future__ import annotations

import shlex
from datetime import date

import pytest

from components.core.config import RLConfig, load_config
from components.core.layout import SFT_KEY, run_key, train_command

DS = date(2026, 11, 14)
RECIPE = RLConfig(reward="hit-rank", rollout="beam", group_size=16, ema_decay=0.95)


def test_the_key_names_method_lambda_reward_rollouts_and_the_average() -> None:
    assert (
        run_key("adagrpo", RECIPE, seed=0, from_init=True)
        == "method=adagrpo,lambda=1,reward=hit-rank,beam=16,ema=0.95"
    )
    assert run_key("grpo", RECIPE, seed=2, from_init=True) == (
        "method=grpo,reward=hit-rank,beam=16,ema=0.95,seed=2"
    )
    assert run_key("nll", RECIPE, seed=0, from_init=True) == "method=nll,continued,ema=0.95"
    assert run_key("nll", RECIPE, seed=0, from_init=False) == SFT_KEY


@pytest.mark.parametrize(
    "change",
    [
        {"reward": "ranker"},
        {"rollout": "sample"},
        {"group_size": 8},
        {"ema_decay": 0.0},
        {"grpo_weight": 0.5},
    ],
)
def test_two_recipes_never_share_a_run(change: dict[str, object]) -> None:
    other = RECIPE.model_copy(update=change)
    assert run_key("mix", other, 0, True) != run_key("mix", RECIPE, 0, True)


@pytest.mark.parametrize("method", ["nll", "mix", "adagrpo", "grpo"])
@pytest.mark.parametrize("seed", [0, 3])
def test_the_printed_train_command_trains_the_run_of_the_key(method: str, seed: int) -> None:
    key = run_key(method, RECIPE, seed, from_init=True)
    words = shlex.split(train_command(DS, key))
    assert words[:4] == ["adagrpo", "train", "--ds", DS.isoformat()]
    flags = dict(zip(words[4::2], words[5::2], strict=True))
    pairs = list(zip(words[4::2], words[5::2], strict=True))
    overrides = [value for flag, value in pairs if flag == "--set"]
    config = load_config(overrides=overrides, environ={})

    assert flags["--method"] == method
    assert run_key(flags["--method"], config.rl, config.train.seed, from_init=True) == key
    assert ("--init" in flags) == (method == "nll")
