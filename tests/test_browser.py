"""A person in headless Chromium: sign up, add a place, see its chart."""

import os
import shutil
import time

import pytest

from support import DATASET
from weatherapp.alerting import cycle
from weatherapp.forecast.sources import ReplaySource

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Newer Chromium upgrades http navigations to https by itself.
    "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
]


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the test makes between page actions are ordinary synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.set_default_timeout(15000)
        yield page
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def replay_hours(count: int) -> None:
    """Run ``count`` cycles, each an hour of the replay later than the last."""
    started = time.time()
    for k in range(count):
        cycle._source = ReplaySource(
            DATASET, speed=1, anchor=started - (count - k) * 3600, start="1989-06-01"
        )
        for chunk in cycle.cycle_chunks():
            cycle.predict_cells(chunk)
    cycle._source = None


@pytest.mark.django_db(transaction=True)
def test_sign_up_add_a_place_and_see_the_chart(live_server, page):
    page.goto(f"{live_server.url}/")
    page.click("text=sign up")
    page.fill("#id_username", "carol")
    page.fill("#id_email", "carol@example.com")
    page.fill("#id_password1", "umbrella-ready-77")
    page.fill("#id_password2", "umbrella-ready-77")
    page.click("button[type=submit]")
    page.wait_for_url("**/places/new/")

    page.fill("#id_name", "Greensboro")
    page.fill("#id_latitude", "36.1")
    page.fill("#id_longitude", "-79.95")
    page.select_option("#id_timezone", "America/New_York")
    page.fill("#id_threshold", "0.4")
    page.click("button[type=submit]")
    page.wait_for_url("**/places/*/")
    assert "Waiting for the first prediction" in page.inner_text("main")

    replay_hours(6)
    page.reload()
    probability = page.inner_text("#probability")
    assert probability.endswith("%") and 0 <= int(probability[:-1]) <= 100
    chart = page.locator("#chart")
    assert chart.is_visible()
    assert len(page.locator("#chart circle").all()) == 6
    assert page.locator("#chart polyline").count() == 1
    page.click("text=places")
    assert "Greensboro" in page.inner_text("table")
