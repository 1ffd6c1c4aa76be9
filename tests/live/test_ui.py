"""The Airflow UI in a browser (Debian's Chromium, driven by Playwright): log in, trigger a run
from the trigger form with a Param changed, backfill two days from the backfill dialog, and see
every run succeed. Screenshots go to var/test-artifacts/ui/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import pytest

from components.core import layout, partitions
from components.core.storage import LocalStorage
from tests.live.local_airflow import DAY_TIMEOUT_S, REPO, LiveAirflow

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.live, pytest.mark.airflow, pytest.mark.spark]

ARTIFACTS = REPO / "var/test-artifacts/ui"
TRIGGERED = date(2026, 11, 5)
BACKFILLED = (date(2026, 11, 6), date(2026, 11, 7))
CHROMIUM = "/usr/bin/chromium"
# Headless in a container: no sandbox (root), no GPU, nothing fetched in the background.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update"]  # fmt: skip


@pytest.fixture(scope="module")
def page(live_airflow: LiveAirflow) -> Iterator[Page]:
    subprocess.run([str(REPO / "scripts/ensure-chromium.sh")], check=True, timeout=600)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def test_a_run_triggered_and_a_backfill_created_in_the_ui_succeed(
    live_airflow: LiveAirflow, page: Page
) -> None:
    from playwright.sync_api import expect

    page.goto(live_airflow.url)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(live_airflow.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_airflow.url}/")

    # A single run, its lookback widened from the default 2 days to 3 in the trigger form.
    dialog = open_trigger_dialog(page, live_airflow.url)
    pick_datetime(page, dialog.get_by_test_id("datetime-input").first, TRIGGERED)
    lookback = dialog.locator("input[name=element_lookback_days]")
    expect(lookback).to_have_value("2")
    lookback.fill("3")
    page.screenshot(path=ARTIFACTS / "trigger-form.png")
    dialog.get_by_role("button", name="Trigger").click()
    expect(dialog).to_be_hidden()

    client = live_airflow.client()
    [run] = client.runs_on(TRIGGERED)
    assert run["run_type"] == "manual" and run["conf"]["lookback_days"] == 3
    client.wait(run["dag_run_id"], timeout_s=DAY_TIMEOUT_S)
    extracted = partitions.read_manifest(
        LocalStorage(live_airflow.root), layout.partition(layout.CURATED_EXPOSURES, TRIGGERED)
    )
    assert extracted["lookback_days"] == 3  # the changed Param reached the stage

    # A backfill of two days from the same dialog.
    dialog = open_trigger_dialog(page, live_airflow.url)
    dialog.get_by_text("Backfill", exact=True).click()
    pickers = dialog.get_by_test_id("datetime-input")
    pick_datetime(page, pickers.nth(0), BACKFILLED[0])
    pick_datetime(page, pickers.nth(1), BACKFILLED[-1])
    expect(dialog.get_by_text("2 runs will be triggered")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "backfill-dialog.png")
    dialog.get_by_role("button", name="Run Backfill").click()
    expect(dialog).to_be_hidden()

    backfill = client.latest_backfill()
    assert (backfill["from_date"][:10], backfill["to_date"][:10]) == tuple(
        day.isoformat() for day in BACKFILLED
    )
    done = client.wait_for_backfill(backfill["id"], timeout_s=len(BACKFILLED) * DAY_TIMEOUT_S)
    assert done == {day: "success" for day in BACKFILLED}

    # What the UI shows: the three runs, each a success.
    backfilled = [other["dag_run_id"] for day in BACKFILLED for other in client.runs_on(day)]
    page.goto(f"{live_airflow.url}/dags/adagrpo_retrain/runs")
    rows = page.get_by_role("row")
    for run_id in (run["dag_run_id"], *backfilled):
        expect(rows.filter(has_text=run_id)).to_contain_text("Success")
    page.screenshot(path=ARTIFACTS / "runs.png", full_page=True)


def open_trigger_dialog(page: Page, url: str) -> Locator:
    """The DAG page's trigger dialog, from a freshly loaded page."""
    page.goto(f"{url}/dags/adagrpo_retrain")
    page.get_by_role("button", name="Trigger").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    return dialog


def pick_datetime(page: Page, picker: Locator, day: date) -> None:
    """Set one of the UI's date-time pickers to midnight UTC of ``day``."""
    from playwright.sync_api import expect

    picker.click()
    popover = page.locator("[data-scope=popover][data-part=content][data-state=open]")
    popover.get_by_placeholder("YYYY/MM/DD").fill(day.strftime("%Y/%m/%d"))
    popover.get_by_placeholder("HH:mm").fill("00:00")
    picker.click()  # closes the popover
    expect(page.locator("[data-scope=popover][data-part=content]:visible")).to_have_count(0)
