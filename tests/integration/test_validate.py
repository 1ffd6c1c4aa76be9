"""The validate stage with real Great Expectations: each corruption kind is caught and named,
verdicts are stored as JSON and HTML, and the gate keeps bad or stale partitions from use."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from benchmarks.bench_validate import publish_day, synthetic_exposures
from components import cli
from components.core.layout import CURATED_EXPOSURES, partition
from components.core.partitions import PartitionNotPublished, read_manifest
from components.core.storage import LocalStorage
from components.validate.gate import PartitionFailedValidation, Refusal, require_validated
from components.validate.report import render_html
from components.validate.result import (
    ExpectationOutcome,
    PartitionResult,
    Status,
    report_key,
    result_key,
)

DT = date(2026, 11, 10)
ENGINES = ("spark", "pandas")
TRAILING_DAYS = 3  # validated days before DT: just enough for the volume check to run
ROWS = 300
ITEM_IDS = np.arange(1, 201, dtype=np.int64)

Corruption = Callable[[pa.Table], pa.Table]

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module", autouse=True)
def validate_cli_only() -> Iterator[None]:
    """The other stages' CLIs, and whatever they import, are not under test here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "STAGE_MODULES", ("components.validate.cli",))
        yield


def validate(
    root: Path, ds: date = DT, lookback_days: int | None = 1, engine: str = "spark"
) -> int:
    argv = ["validate", "--root", str(root), "--ds", ds.isoformat()]
    argv += ["--set", f"validation.engine={engine}", "--set", "spark.master=local[2]"]
    if lookback_days is not None:
        argv += ["--lookback-days", str(lookback_days)]
    return cli.main(argv)


def publish_valid_day(storage: LocalStorage, day: date) -> None:
    exposures = synthetic_exposures(day, ROWS, ITEM_IDS, seed=day.toordinal())
    publish_day(storage, day, exposures, ITEM_IDS)


@pytest.fixture(scope="module")
def validated_root(tmp_path_factory: pytest.TempPathFactory, validate_cli_only: None) -> Path:
    """Valid days DT-3..DT, all validated by the CLI: the clean state each test copies."""
    root = tmp_path_factory.mktemp("validated")
    storage = LocalStorage(root)
    for offset in range(TRAILING_DAYS, -1, -1):
        publish_valid_day(storage, DT - timedelta(days=offset))
    assert validate(root, lookback_days=TRAILING_DAYS + 1) == 0
    return root


@pytest.fixture
def storage(validated_root: Path, tmp_path: Path) -> LocalStorage:
    root = tmp_path / "root"
    shutil.copytree(validated_root, root)
    return LocalStorage(root)


def rewrite_dt(storage: LocalStorage, corrupt: Corruption) -> None:
    """Republish the curated partition of DT, as extract would, after ``corrupt``."""
    exposures = storage.read_parquet(partition(CURATED_EXPOSURES, DT))
    publish_day(storage, DT, corrupt(exposures), ITEM_IDS)


def set_first_row(**values: Any) -> Corruption:
    def corrupt(table: pa.Table) -> pa.Table:
        for column, value in values.items():
            cells = table[column].to_pylist()
            cells[0] = value
            field = table.schema.field(column)
            table = table.set_column(
                table.schema.get_field_index(column), field, pa.array(cells, field.type)
            )
        return table

    return corrupt


def duplicate_first_row(table: pa.Table) -> pa.Table:
    return pa.concat_tables([table, table.slice(0, 1)])


CORRUPTIONS = [
    pytest.param(
        set_first_row(user_id=None),
        "expect_column_values_to_not_be_null(user_id)",
        "unexpected: 1",
        id="null-user-id",
    ),
    pytest.param(
        duplicate_first_row,
        "expect_column_values_to_be_unique(event_id)",
        "unexpected: 2",
        id="duplicated-event-id",
    ),
    pytest.param(
        set_first_row(position=-1),
        "expect_column_values_to_be_in_set(position)",
        "e.g. -1",
        id="negative-position",
    ),
    pytest.param(
        set_first_row(clicked=False, purchased=True),
        "expect_column_pair_values_a_to_be_greater_than_b(clicked, purchased)",
        "unexpected: 1",
        id="purchase-without-click",
    ),
    pytest.param(
        set_first_row(ts=datetime(2026, 11, 9, 23, 30, tzinfo=UTC)),
        "expect_column_values_to_be_between(ts)",
        "e.g. 2026-11-09T23:30:00",
        id="timestamp-in-another-day",
    ),
    pytest.param(
        set_first_row(item_id=999_999),
        "expect_column_values_to_be_in_id_set(item_id)",
        "e.g. 999999",
        id="unknown-item-id",
    ),
    pytest.param(
        lambda table: table.drop_columns(["dwell_ms"]),
        "expect_table_columns_to_match_set",
        '"missing": ["dwell_ms"]',
        id="missing-column",
    ),
    pytest.param(
        lambda table: table.slice(0, 0),
        "expect_table_row_count_to_be_between",
        "[at least one row]: observed 0",
        id="empty-partition",
    ),
    pytest.param(
        lambda table: table.slice(0, ROWS // 10),
        "expect_table_row_count_to_be_between",
        f"median of the validated trailing 7 days ({ROWS}): {ROWS // 2}..{ROWS * 3}",
        id="volume-drop-90-percent",
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("corrupt", "expectation", "finding"), CORRUPTIONS)
def test_corruption_fails_and_is_named(
    storage: LocalStorage,
    capsys: pytest.CaptureFixture[str],
    corrupt: Corruption,
    expectation: str,
    finding: str,
    engine: str,
) -> None:
    rewrite_dt(storage, corrupt)

    assert validate(storage.root, engine=engine) == 1

    stderr = capsys.readouterr().err
    assert f"validation failed for dt={DT.isoformat()}" in stderr
    assert any(expectation in line and finding in line for line in stderr.splitlines()), stderr
    result = storage.read_json(result_key(DT))
    assert result["success"] is False
    assert expectation in result["failed_expectations"]


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_column_errors_only_the_checks_on_that_column(
    storage: LocalStorage, engine: str
) -> None:
    rewrite_dt(storage, lambda table: table.drop_columns(["dwell_ms"]))

    assert validate(storage.root, engine=engine) == 1

    expectations = storage.read_json(result_key(DT))["expectations"]
    on_dwell = [e for e in expectations if e["columns"] == ["dwell_ms"]]
    assert {e["status"] for e in on_dwell} == {"error"}
    assert all(e["details"] == "column dwell_ms is missing" for e in on_dwell)
    others = [e for e in expectations if e not in on_dwell and e["type"].startswith("expect_col")]
    assert {e["status"] for e in others} == {"passed"}


def test_clean_window_passes_with_json_and_html(validated_root: Path) -> None:
    storage = LocalStorage(validated_root)
    result = storage.read_json(result_key(DT))

    manifest = read_manifest(storage, partition(CURATED_EXPOSURES, DT))
    assert result["success"] is True
    assert (result["dt"], result["ds"]) == (DT.isoformat(), DT.isoformat())
    assert (result["published_at"], result["rows"]) == (manifest["published_at"], ROWS)
    assert result["failed_expectations"] == []
    assert result["skipped_expectations"] == []
    assert {e["status"] for e in result["expectations"]} == {"passed"}
    assert {"type", "columns", "success", "observed_value", "unexpected_count"} <= set(
        result["expectations"][0]
    )
    html = (validated_root / report_key(DT)).read_text()
    assert "PASSED" in html and "expect_column_values_to_be_unique" in html


def test_volume_is_not_evaluated_without_enough_history(validated_root: Path) -> None:
    first_day = DT - timedelta(days=TRAILING_DAYS)
    result = LocalStorage(validated_root).read_json(result_key(first_day))

    volume = [e for e in result["expectations"] if "median" in e["rule"]]
    assert result["success"] is True
    assert [(e["status"], e["success"]) for e in volume] == [("not_evaluated", None)]
    assert "only 0 of the trailing 7 days passed validation" in volume[0]["details"]
    assert result["skipped_expectations"] == [
        {"expectation": volume[0]["type"], "rule": volume[0]["rule"], "why": volume[0]["details"]}
    ]
    html = (validated_root / report_key(first_day)).read_text()
    assert "PASSED (1 check skipped)" in html
    assert "skipped: only 0 of the trailing 7 days passed validation" in html


def test_default_lookback_revalidates_the_days_extract_rewrites(storage: LocalStorage) -> None:
    days = [DT - timedelta(days=2), DT - timedelta(days=1), DT]
    before = {day: storage.read_json(result_key(day))["validated_at"] for day in days}

    assert validate(storage.root, lookback_days=None) == 0  # extract.lookback_days = 2

    revalidated = [d for d in days if storage.read_json(result_key(d))["validated_at"] != before[d]]
    assert revalidated == days[1:]


def test_missing_partition_is_an_error_naming_its_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert validate(tmp_path) == 2
    assert f"curated/exposures/dt={DT.isoformat()} is not published" in caplog.text


def test_gate_accepts_a_fresh_pass(storage: LocalStorage) -> None:
    manifest = require_validated(storage, DT)
    assert manifest["rows"] == ROWS


def test_gate_refuses_a_failed_partition(storage: LocalStorage) -> None:
    rewrite_dt(storage, set_first_row(user_id=None))
    assert validate(storage.root) == 1

    with pytest.raises(PartitionFailedValidation, match=r"not_be_null\(user_id\)") as refused:
        require_validated(storage, DT)
    assert refused.value.reason is Refusal.FAILED


def test_gate_refuses_a_partition_without_result(storage: LocalStorage) -> None:
    publish_valid_day(storage, DT + timedelta(days=1))

    with pytest.raises(PartitionFailedValidation, match="no validation result") as refused:
        require_validated(storage, DT + timedelta(days=1))
    assert refused.value.reason is Refusal.MISSING


def test_gate_refuses_a_partition_rewritten_after_validation(storage: LocalStorage) -> None:
    rewrite_dt(storage, lambda table: table)  # same rows, new publication

    with pytest.raises(PartitionFailedValidation, match="republished") as refused:
        require_validated(storage, DT)
    assert refused.value.reason is Refusal.STALE


def test_gate_refuses_an_unpublished_partition(storage: LocalStorage) -> None:
    with pytest.raises(PartitionNotPublished):
        require_validated(storage, DT + timedelta(days=5))


def test_html_report_escapes_every_value() -> None:
    hostile = "<script>alert(1)</script>"
    outcome = ExpectationOutcome(
        expectation_type="expect_column_values_to_be_in_set",
        columns=("surface",),
        rule=f"surface is not {hostile}",
        status=Status.FAILED,
        observed_value=hostile,
        unexpected_count=1,
        unexpected_percent=50.0,
        unexpected_examples=(hostile,),
        details=hostile,
    )
    result = PartitionResult(DT, DT, hostile, 2, "2026-11-11T00:00:00+00:00", (outcome,))

    html = render_html(result)

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "FAILED" in html
