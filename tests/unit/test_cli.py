"""The `adagrpo` command line: subcommands, config printing, bad input."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["extract", "--ds", "0001-01-01"], "0001-01-01 is outside 1970-01-01 to 9998-12-31"),
        (["simulate", "--start", "9999-12-31"], "9999-12-31 is outside 1970-01-01 to 9998-12-31"),
        (["validate", "--ds", "2026-11-14", "--lookback-days", "100000"], "more than 3660"),
        (["extract", "--ds", "2026-11-14", "--lookback-days", "0"], "not a positive integer"),
    ],
)
def test_days_and_windows_stay_in_the_calendar(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_window_that_begins_before_the_calendar_is_named(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    argv = ["simulate", "--root", str(tmp_path), "--ds", "1970-01-02", "--lookback-days", "5"]
    assert main(argv) == 2
    assert "the 5 days ending 1970-01-02 begin before 1970-01-01" in caplog.text


def test_a_start_outside_the_calendar_is_a_bad_setting(caplog: pytest.LogCaptureFixture) -> None:
    assert main(["config", "--set", "simulate.start=0001-01-01"]) == 2
    assert "simulate.start" in caplog.text
