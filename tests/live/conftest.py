"""One live Airflow for the live tests, with the tiny shop's settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live.local_airflow import TINY_SHOP, LiveAirflow, local_airflow


@pytest.fixture(scope="session")
def live_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAirflow]:
    with local_airflow(tmp_path_factory.mktemp("live"), TINY_SHOP) as airflow:
        yield airflow
