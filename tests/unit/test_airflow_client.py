"""The REST client of a live Airflow: a 503 (on SQLite, the database locked by the scheduler)
is tried again after a pause; a lasting one, and any other error, is raised naming the call."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from components.orchestration import airflow_client
from components.orchestration.airflow_client import AirflowClient, AirflowError

LOCKED = {"detail": "Database is locked. Backfill creation is not supported on SQLite"}


def client(busy_answers: int, monkeypatch: pytest.MonkeyPatch) -> tuple[AirflowClient, list[str]]:
    """A client whose Airflow answers the backfill call 503 ``busy_answers`` times first."""
    monkeypatch.setattr(airflow_client, "BUSY_PAUSES_S", (0, 0, 0, 0))
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "t"})
        if calls.count("POST /api/v2/backfills") <= busy_answers:
            return httpx.Response(503, json=LOCKED)
        return httpx.Response(200, json={"id": 7})

    made = AirflowClient("http://airflow", "admin", "pw", transport=httpx.MockTransport(answer))
    return made, calls


def test_a_busy_database_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    made, calls = client(busy_answers=2, monkeypatch=monkeypatch)

    assert made.create_backfill(date(2026, 11, 2), date(2026, 11, 4), {}) == 7
    assert calls.count("POST /api/v2/backfills") == 3


def test_a_database_busy_for_good_is_an_error_naming_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made, calls = client(busy_answers=99, monkeypatch=monkeypatch)

    with pytest.raises(AirflowError, match=r"POST /api/v2/backfills: 503 .*Database is locked"):
        made.create_backfill(date(2026, 11, 2), date(2026, 11, 4), {})
    assert calls.count("POST /api/v2/backfills") == 4  # one try per pause
