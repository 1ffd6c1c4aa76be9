"""Configuration precedence and error reporting."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from components.core.config import ConfigError, PipelineConfig, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_embedded_defaults() -> None:
    config = load_config(environ={})
    assert config.spark.master == "local[*]"
    assert config.extract.lookback_days == 2
    assert config.simulate.start == date(2026, 11, 1)


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("extract: {lookback_days: 3}\nspark: {master: 'local[1]'}\n")
    config = load_config(
        path,
        overrides=["extract.lookback_days=5"],
        environ={"ADAGRPO__EXTRACT__LOOKBACK_DAYS": "4", "ADAGRPO__STORAGE__ROOT": "s3://b/p"},
    )
    assert config.extract.lookback_days == 5
    assert config.spark.master == "local[1]"
    assert config.storage.root == "s3://b/p"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("simulate: {scale: demo}\n")
    assert load_config(environ={"ADAGRPO_CONFIG": str(path)}).simulate.scale == "demo"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("extract.lookbak_days=3", "lookbak_days"),
        ("extract.lookback_days=0", "lookback_days"),
        ("simulate.scale=huge", "scale"),
        ("no_equals_sign", "section.key=value"),
        ("features.windows_days=[7, 7]", "distinct"),
        ("features.windows_days=[]", "windows_days"),
        ("ranker.epochs=0", "epochs"),
        ("ranker.learning_rate=0", "learning_rate"),
    ],
)
def test_bad_settings_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override], environ={})


def test_missing_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", environ={})
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(bad, environ={})


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path: Path) -> None:
    assert isinstance(load_config(path, environ={}), PipelineConfig)


def test_yaml_dump_round_trips(tmp_path: Path) -> None:
    config = load_config(overrides=["simulate.days=3"], environ={})
    path = tmp_path / "dump.yaml"
    path.write_text(config.to_yaml())
    assert load_config(path, environ={}) == config


def float_settings() -> list[str]:
    """Every float setting of the configuration, as section.key (one level of nesting)."""
    names = []
    for section, field in PipelineConfig.model_fields.items():
        model = field.annotation
        for name, inner in getattr(model, "model_fields", {}).items():
            if inner.annotation in (float, float | None):
                names.append(f"{section}.{name}")
    return names


@pytest.mark.parametrize("setting", float_settings())
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_every_float_setting_is_finite(setting: str, value: str) -> None:
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")):
        load_config(overrides=[f"{setting}={value}"], environ={})


def test_the_float_settings_are_found() -> None:
    assert {"rl.learning_rate", "validation.volume_max_ratio", "rl.tau_prob_quantile"} <= set(
        float_settings()
    )
