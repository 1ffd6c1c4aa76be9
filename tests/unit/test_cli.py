"""The `adagrpo` command line: subcommands, config printing, bad input."""

from __future__ import annotations

import pytest

from components.cli import build_parser, main


def test_every_stage_has_a_subcommand() -> None:
    help_text = build_parser().format_help()
    stages = ("simulate", "replay", "extract", "validate", "features", "semantic-ids")
    for stage in (*stages, "build-dataset", "config"):
        assert stage in help_text


def test_config_prints_effective_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--root", "/data/x", "--set", "spark.master=local[1]"]) == 0
    out = capsys.readouterr().out
    assert "root: /data/x" in out and "master: local[1]" in out


def test_root_is_taken_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--root", "/data/run #1"]) == 0
    assert "root: '/data/run #1'" in capsys.readouterr().out


def test_bad_logical_date_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["extract", "--ds", "2026-13-01"])
    assert exit_info.value.code == 2
    assert "2026-13-01" in capsys.readouterr().err


def test_bad_setting_exits_2_with_message(caplog: pytest.LogCaptureFixture) -> None:
    assert main(["config", "--set", "extract.lookback_days=-1"]) == 2
    assert "lookback_days" in caplog.text
