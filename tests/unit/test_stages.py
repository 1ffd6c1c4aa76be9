"""The stage manifest is the one place a stage is described: each entry's command, package,
config section and datasets exist, and what is derived from it (hints, images, GPU limits)
follows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.cli import build_parser
from components.core import layout
from components.core.config import PipelineConfig, RunnerConfig
from components.stages import STAGES, TOOLS, producer_hint

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
DATASETS = {
    value
    for name, value in vars(layout).items()
    if name.isupper() and isinstance(value, str) and "." not in value
}


def commands() -> set[str]:
    return set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def test_every_stage_and_tool_is_a_command_of_its_package() -> None:
    assert set(STAGES) | set(TOOLS) <= commands()
    for stage in STAGES.values():
        assert (COMPONENTS / stage.package / "cli.py").is_file(), stage.name
        assert (COMPONENTS / stage.package / "stage.py").is_file(), stage.name


def test_every_stage_names_a_config_section_and_datasets_of_the_layout() -> None:
    sections = set(PipelineConfig.model_fields)
    for stage in STAGES.values():
        assert stage.section is None or stage.section in sections, stage.name
        assert set(stage.reads) | set(stage.publishes) <= DATASETS, stage.name


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("curated/exposures/dt=2026-11-03", "; run `adagrpo extract --ds 2026-11-03` first"),
        ("models/policy/dt=2026-11-03/method=nll", "; run `adagrpo train --ds 2026-11-03` first"),
        ("promotion/blessing/dt=2026-11-03", "; run `adagrpo bless --ds 2026-11-03` first"),
        ("comparison/dt=2026-11-03", "; run `adagrpo experiment --ds 2026-11-03` first"),
        ("raw/catalog/dt=2026-11-03", "raw logs have not landed"),
        ("somewhere/else", ""),
    ],
)
def test_a_missing_dataset_names_the_first_command_that_publishes_it(key: str, hint: str) -> None:
    assert hint in producer_hint(key) and (hint or not producer_hint(key))


def test_images_and_gpus_follow_the_manifest_unless_a_stage_is_set() -> None:
    runner = RunnerConfig()
    assert {name: runner.image_for(name) for name in ("extract", "train", "evaluate")} == {
        "extract": "adagrpo/pipeline:local",
        "train": "adagrpo/trainer:local",
        "evaluate": "adagrpo/trainer:local",
    }
    assert runner.kubernetes.gpus == {"train": 1}
    assert (
        RunnerConfig(images={"train": "registry/train:1"}).image_for("train") == "registry/train:1"
    )
