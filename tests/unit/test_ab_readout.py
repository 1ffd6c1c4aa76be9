"""``adagrpo ab-readout`` on curated exposures tagged by the service: per-arm metrics, the
verdict, the guardrail from the registered versions, and the published page."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from components import cli
from components.core import layout, partitions
from components.core.config import PipelineConfig, load_config
from components.core.storage import LocalStorage
from components.registry.experiments import start_experiment
from components.registry.store import ModelRegistry

START = date(2026, 11, 14)


def registered(registry: ModelRegistry, seed: int, hallucination: float) -> int:
    metrics = {"test": {"hallucination_rate": hallucination}}
    version, _ = registry.register(f"dt={START}/{seed}", {"m": b"%d" % seed}, {"metrics": metrics})
    return version.number


def curated_day(root: Path, day: date, experiment: str, ctr: dict[str, float]) -> None:
    rng = np.random.default_rng(day.toordinal())
    users = np.repeat(np.arange(4_000), 5)
    arm = np.where(users % 2 == 0, "control", "treatment")
    clicked = rng.random(len(users)) < np.where(arm == "control", ctr["control"], ctr["treatment"])
    table = pa.table(
        {
            "user_id": users,
            "arm": arm,
            "clicked": clicked,
            "dwell_ms": np.where(clicked, 20_000, 0),
            "experiment_id": [experiment] * len(users),
        }
    )
    other = table.set_column(4, "experiment_id", pa.array(["another"] * len(users)))
    partitions.publish_files(
        LocalStorage(root),
        layout.partition(layout.CURATED_EXPOSURES, day),
        {"part-0.parquet": pa.concat_tables([table, other])},
        {},
    )


@pytest.fixture
def experiment(config: PipelineConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ADAGRPO__REGISTRY__ROOT", str(tmp_path / "registry"))
    registry = ModelRegistry.open(load_config().registry)
    control, treatment = registered(registry, 1, 0.001), registered(registry, 2, 0.002)
    spec = start_experiment(registry, control, treatment, START, config.ab_test)
    for offset in range(2):
        curated_day(Path(config.storage.root), START + timedelta(offset), spec["id"],
                    {"control": 0.05, "treatment": 0.08})  # fmt: skip
    return str(spec["id"])


def test_the_readout_finds_the_better_arm_and_checks_the_guardrail(
    config: PipelineConfig, experiment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    day = (START + timedelta(1)).isoformat()
    flags = ["--root", config.storage.root, "--experiment", experiment, "--ds", day]

    assert cli.main(["ab-readout", *flags]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed["verdict"].startswith("treatment wins on CTR (lift +")
    published = Path(config.storage.root) / f"abtest/{experiment}/dt={day}"
    result = json.loads((published / "readout.json").read_text())
    assert result["arms"]["control"]["users"] == result["arms"]["treatment"]["users"] == 2_000
    assert result["arms"]["control"]["exposures"] == 20_000  # the other experiment left out
    assert result["dwell_ms"]["lift"] > 0 and result["ctr"]["significant"]
    assert result["guardrail"] == {
        "metric": "hallucination_rate (registered, unconstrained decoding)",
        "control": 0.001, "treatment": 0.002, "passed": False,
    }  # fmt: skip
    assert "fails the guardrail" in result["verdict"]
    assert "A/B readout" in (published / "report.html").read_text()


def test_an_unknown_experiment_is_a_clear_error(
    config: PipelineConfig, experiment: str, caplog: pytest.LogCaptureFixture
) -> None:
    flags = ["--root", config.storage.root, "--experiment", "nope", "--ds", START.isoformat()]
    assert cli.main(["ab-readout", *flags]) == 2
    assert "no experiment 'nope'" in caplog.text
