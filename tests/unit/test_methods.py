"""The table of training methods is the one place that names them: the CLI offers its rows, the
configuration accepts them and nothing else. What each row's flags do is tested where they act:
the gate in ``test_grpo.py``, the loss in ``test_rl.py``, the run keys in ``test_run_keys.py``."""

from __future__ import annotations

import pydantic
import pytest

from components.cli import build_parser
from components.core.config import TrainConfig
from components.core.methods import METHODS


def test_train_offers_every_method_of_the_table_and_the_config_accepts_each() -> None:
    train = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    [option] = [action for action in train._actions if "--method" in action.option_strings]

    assert list(option.choices) == list(METHODS)
    assert [TrainConfig(method=name).method for name in METHODS] == list(METHODS)


def test_a_method_outside_the_table_is_refused_naming_the_methods() -> None:
    with pytest.raises(pydantic.ValidationError, match="the methods are nll, mix, grpo, adagrpo"):
        TrainConfig(method="sft")
