"""The `adagrpo` command line: subcommands, config printing, and errors by intent."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from components.cli import build_parser, main
from components.core.errors import (
    EXIT_BAD_INPUT,
    EXIT_BUG,
    EXIT_TRANSIENT,
    BadInput,
    DiskFull,
    MissingInput,
    StorageUnavailable,
    StorageUnreachable,
    exit_code,
)
from components.registry.store import AliasConflict


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


# -- errors by intent: bad input 2, may heal 75, a bug 1 with its traceback ------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadInput("a setting a person must fix"), EXIT_BAD_INPUT),
        (MissingInput("a stage run before its input"), EXIT_BAD_INPUT),
        (StorageUnavailable("no credentials"), EXIT_BAD_INPUT),
        (StorageUnreachable("the endpoint does not answer"), EXIT_TRANSIENT),
        (AliasConflict("another writer moved the alias"), EXIT_TRANSIENT),
        (ConnectionResetError("reset by peer"), EXIT_TRANSIENT),
        (TimeoutError("timed out"), EXIT_TRANSIENT),
        (DiskFull(errno.ENOSPC, "no space on /lake"), EXIT_TRANSIENT),
        (OSError(errno.ENOSPC, "No space left on device"), EXIT_TRANSIENT),
        (ValueError("cannot reshape array of size 3 into shape (2,2)"), EXIT_BUG),
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), EXIT_BUG),
        (OSError(errno.EIO, "Input/output error"), EXIT_BUG),
        (KeyError("user_id"), EXIT_BUG),
    ],
)
def test_each_error_gets_the_exit_code_of_its_intent(error: Exception, code: int) -> None:
    assert exit_code(error) == code


def test_an_exception_deep_in_a_library_is_a_bug_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def reshape_wrongly(*_: object) -> None:
        np.arange(3).reshape(2, 2)  # numpy raises ValueError: not bad input, a bug

    monkeypatch.setattr("components.extract.stage.extract", reshape_wrongly)

    assert main(["extract", "--ds", "2026-11-03"]) == EXIT_BUG
    assert "unexpected failure (a bug; the traceback follows)" in caplog.text
    assert "Traceback" in caplog.text and "reshape_wrongly" in caplog.text


def test_bad_input_is_one_line_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*_: object) -> None:
        raise BadInput("the raw logs name no items: fix the export")

    monkeypatch.setattr("components.extract.stage.extract", refuse)

    assert main(["extract", "--ds", "2026-11-03"]) == EXIT_BAD_INPUT
    assert "the raw logs name no items: fix the export" in caplog.text
    assert "Traceback" not in caplog.text
