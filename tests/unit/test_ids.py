"""Ids that become paths cannot escape their folder: traversal, absolute paths, empty, hidden
and over-long ids are refused, by every command that takes one, before anything is read or
written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from components.cli import main
from components.core.ids import MAX_LENGTH, UnsafeId, path_id
from components.core.layout import check_run_key
from components.core.storage import LocalStorage
from components.registry.experiments import read_experiment
from components.registry.store import ModelRegistry

UNSAFE = [
    "../aliases",
    "..",
    "/etc/passwd",
    "a/b",
    "",
    ".hidden",
    "x" * (MAX_LENGTH + 1),
    "two words",
    "tab\there",
    "café",
    "a\\..\\b",
]


@pytest.mark.parametrize("value", UNSAFE)
def test_an_unsafe_id_is_refused_naming_its_kind(value: str) -> None:
    with pytest.raises(UnsafeId, match="the experiment id"):
        path_id("experiment id", value)


@pytest.mark.parametrize(
    "value", ["2026-11-14-v1-vs-v2", "method=mix,lambda=0.5,reward=ranker+hit,beam=16,ema=0.9"]
)
def test_the_ids_the_pipeline_makes_are_safe(value: str) -> None:
    assert path_id("id", value) == value


@pytest.mark.parametrize("value", UNSAFE)
def test_run_keys_and_experiment_ids_share_the_rule(value: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafeId):
        check_run_key(value)
    with pytest.raises(UnsafeId):
        read_experiment(ModelRegistry(LocalStorage(tmp_path)), value)


COMMANDS = [
    ["ab-readout", "--ds", "2026-11-14", "--experiment"],
    ["serve", "--experiment"],
    ["evaluate", "--ds", "2026-11-14", "--run"],
    ["train", "--ds", "2026-11-14", "--init"],
    ["registry", "put-up", "--ds", "2026-11-14", "--reason", "r", "--run"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("value", ["../aliases", "/etc/passwd", "", "x" * (MAX_LENGTH + 1)])
def test_every_command_refuses_an_unsafe_id_before_touching_storage(
    command: list[str], value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, registry = tmp_path / "root", tmp_path / "registry"
    argv = [*command, value]
    if argv[0] == "registry":
        argv[1:1] = ["--registry", str(registry)]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--root", str(root)] if argv[0] != "registry" else argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert ("experiment id" in error or "run key" in error) and "Traceback" not in error
    assert not root.exists() and not registry.exists()


@pytest.mark.parametrize("version", ["0", "-1", "../1"])
def test_a_registry_version_is_a_positive_integer(
    version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["registry", "--registry", str(tmp_path / "registry"), "show", version])
    assert exit_.value.code == 2
    assert "is not a positive integer" in capsys.readouterr().err


def test_a_day_is_a_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--ds", "../2026-11-14", "--run", "method=nll"])
    assert "is not a date YYYY-MM-DD" in capsys.readouterr().err
    assert date.fromisoformat("2026-11-14")  # what --ds takes
