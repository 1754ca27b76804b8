"""The sandbox in a real headless Chromium (Debian's chromium and chromedriver): the flow a
newcomer tries first, with screenshots under test-results/sandbox/."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from adapters.web.sandbox.platform import direct_conversation
from tests.adapters.sandbox_support import sandbox_in_thread
from tests.conftest import ROOT, unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = ROOT / "test-results" / "sandbox"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile and nothing talking to the network."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        unavailable("Debian's chromium and chromium-driver are not installed")
    profile = tempfile.mkdtemp(prefix="sandbox-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_RELOADED = (StaleElementReferenceException, NoSuchElementException)


def shot(driver: WebDriver, name: str) -> None:
    """Keep a full-page screenshot (results are not committed)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS.parent / ".gitignore").write_text("*\n")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(1000, min(int(height) + 40, 6000)))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1280, 1000)


def wait_text(driver: WebDriver, text: str, *, where: str = "#timeline") -> None:
    """Wait until the part of the page `where` shows `text`."""
    WebDriverWait(driver, 30, ignored_exceptions=_RELOADED).until(
        ready.text_to_be_present_in_element((By.CSS_SELECTOR, where), text)
    )


def act_as(driver: WebDriver, name: str) -> None:
    """Pick a person in the "Acting as" selector and wait for the page the server drew for them."""
    for attempt in range(3):
        try:  # the page's refresh script may redraw the selector under us: pick again
            Select(driver.find_element(By.ID, "act-as")).select_by_visible_text(name)
            driver.find_element(By.CSS_SELECTOR, ".act-as button").click()
            break
        except _RELOADED:
            if attempt == 2:
                raise
    WebDriverWait(driver, 30, ignored_exceptions=_RELOADED).until(
        lambda d: f"{name} (you)" in d.find_element(By.TAG_NAME, "body").text
    )


def say(driver: WebDriver, text: str) -> None:
    """Type in the composer and send."""
    box = driver.find_element(By.ID, "say")
    box.send_keys(text)
    driver.find_element(By.CSS_SELECTOR, ".composer button").click()


def test_the_first_five_minutes(browser: WebDriver, tmp_path: Path) -> None:
    with sandbox_in_thread(tmp_path) as run:
        browser.get(run.base)
        assert "/sandbox/c/C0ALERTS1" in browser.current_url
        assert "SANDBOX" in browser.find_element(By.CSS_SELECTOR, ".banner").text.upper()
        shot(browser, "01-channel")

        # An alert from Alertmanager is claimed for the operator.
        Select(browser.find_element(By.ID, "source")).select_by_value("alertmanager")
        Select(browser.find_element(By.ID, "system")).select_by_value("billing-router")
        browser.find_element(By.ID, "post-alert").click()
        wait_text(browser, "Claimed for")
        claim = browser.find_element(By.CSS_SELECTOR, ".thread .card")
        assert "@Alice Ng" in claim.text and "Bob Ruiz" in claim.text
        shot(browser, "02-claimed")

        # Ten minutes later (moved by the page) the maintainer is told.
        browser.find_element(By.CSS_SELECTOR, "button[data-step='10m']").click()
        wait_text(browser, "Still unacknowledged: escalated to")
        assert "@Bob Ruiz" in browser.find_element(By.ID, "timeline").text
        shot(browser, "03-escalated")
        browser.find_element(By.LINK_TEXT, "Bob Ruiz").click()
        wait_text(browser, "escalates to you")
        shot(browser, "04-maintainer-direct-message")

        # The operator acknowledges: escalation stops.
        browser.find_element(By.LINK_TEXT, "#C0ALERTS1").click()
        act_as(browser, "Alice Ng")
        browser.find_element(By.CSS_SELECTOR, "button[data-action='alert.ack']").click()
        wait_text(browser, "Acknowledged: held by")
        browser.find_element(By.CSS_SELECTOR, "button[data-step='30m']").click()
        wait_text(browser, "moved ahead", where="#clock-now")
        timeline = browser.find_element(By.ID, "timeline").text
        assert "escalated to @Carol Diaz" not in timeline
        assert run.sandbox.platform.count(direct_conversation("carol")) == 0
        shot(browser, "05-acknowledged")

        # /stop by someone else is refused and the holder is told.
        say(browser, "/stop billing-router error rate")
        wait_text(browser, "Carol Diaz")
        assert "stop.confirm" not in browser.page_source
        shot(browser, "06-stop-refused")

        # The holder asks, confirms, and the (harmless) stop action runs.
        act_as(browser, "Carol Diaz")
        say(browser, "/stop billing-router error rate")
        browser.find_element(By.CSS_SELECTOR, "button[data-action='stop.confirm']").click()
        wait_text(browser, "webhook answered 200")
        shot(browser, "07-stopped")
        browser.find_element(By.LINK_TEXT, "Stop actions").click()
        wait_text(browser, "valid: HMAC-SHA256 of the exact body")
        assert "http://127.0.0.1:9099/billing-router/stop" in browser.page_source
        shot(browser, "08-stop-action")
