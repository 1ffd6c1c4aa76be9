"""A three-day backfill under a live scheduler, created through the REST API, then every day
again (reprocessed) through `airflow backfill create`: each day's outputs are there once, and the
second pass reproduces them byte for byte (manifests but for when they were published; Spark's
Parquet footers but for the order of a hash set, ``tests/snapshots.py``) without training or
registering anything new. Validation runs again for real, to the same verdicts."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.compute as pc
import pytest

from components.core import layout, partitions
from components.core.storage import LocalStorage
from components.orchestration.airflow_client import DAG_ID
from components.registry.store import ModelRegistry
from components.validate.gate import require_validated
from components.validate.result import result_key
from tests.live.local_airflow import DAY_TIMEOUT_S, LiveAirflow
from tests.snapshots import published_files, stored_files

pytestmark = [pytest.mark.live, pytest.mark.airflow, pytest.mark.spark]

DAYS = (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4))
CONF = {"lookback_days": 2, "scale": "tiny", "backfill_registry": "register"}


def test_a_backfill_then_its_reprocessing_from_the_cli_give_the_same_bytes(
    live_airflow: LiveAirflow,
) -> None:
    client = live_airflow.client()
    first = client.create_backfill(DAYS[0], DAYS[-1], CONF)
    done = client.wait_for_backfill(first, timeout_s=len(DAYS) * DAY_TIMEOUT_S)
    assert done == {day: "success" for day in DAYS}

    storage = LocalStorage(live_airflow.root)
    for day in DAYS:
        require_validated(storage, day)
        curated = storage.read_parquet(layout.partition(layout.CURATED_EXPOSURES, day))
        assert curated.num_rows > 0
        assert len(pc.unique(curated.column("event_id"))) == curated.num_rows  # no duplicates
        for dataset in (layout.DATASETS, layout.SELECTION, layout.BLESSING, layout.REGISTRATION):
            assert partitions.is_published(storage, layout.partition(dataset, day)), dataset
    # One registry version per day that registered one, none twice; the first is the champion.
    registry = ModelRegistry(LocalStorage(live_airflow.registry))
    registered = [registration(storage, day).get("version") for day in DAYS]
    versions = registry.versions()
    assert sorted(v.number for v in versions) == sorted(n for n in registered if n is not None)
    assert len({v.manifest["identity"] for v in versions}) == len(versions)
    assert registered[0] == 1 and registry.aliases()["champion"] == 1
    outputs = published_files(storage, "")
    registry_files = stored_files(registry.storage)
    published_at = {day: manifest(storage, day)["published_at"] for day in DAYS}
    verdicts = {day: verdict(storage, day) for day in DAYS}

    created = live_airflow.airflow(
        "backfill", "create", "--dag-id", DAG_ID, "--from-date", DAYS[0].isoformat(),
        "--to-date", DAYS[-1].isoformat(), "--reprocess-behavior", "completed",
        "--max-active-runs", "1", "--dag-run-conf", json.dumps(CONF),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr[-3000:]
    again = client.latest_backfill()
    assert again["id"] != first and again["reprocess_behavior"] == "completed"
    done = client.wait_for_backfill(again["id"], timeout_s=len(DAYS) * DAY_TIMEOUT_S)
    assert done == {day: "success" for day in DAYS}

    assert all(manifest(storage, day)["published_at"] > published_at[day] for day in DAYS)
    rewritten = published_files(storage, "")
    assert sorted(rewritten) == sorted(outputs)
    assert [key for key in outputs if rewritten[key] != outputs[key]] == []
    # Validation ran again: its results say when, and which publication they judged.
    assert {day: verdict(storage, day) for day in DAYS} == verdicts
    assert stored_files(registry.storage) == registry_files  # nothing registered, no alias moved


def registration(storage: LocalStorage, day: date) -> dict[str, object]:
    outcome: dict[str, object] = storage.read_json(
        f"{layout.partition(layout.REGISTRATION, day)}/registration.json"
    )
    return outcome


def verdict(storage: LocalStorage, day: date) -> dict[str, object]:
    """The day's validation result without when it ran and which publication it judged."""
    judged: dict[str, object] = storage.read_json(result_key(day))
    return {k: v for k, v in judged.items() if k not in {"validated_at", "published_at"}}


def manifest(storage: LocalStorage, day: date) -> dict[str, str]:
    """The day's training-set manifest: republished by every run of the day."""
    return dict(partitions.read_manifest(storage, layout.partition(layout.DATASETS, day)))
