"""Walk the console in a real headless Chromium: a sign-in link, each page, the filters, a
used link; screenshots under tests/web/results/. Also: no page breaks its own Content
Security Policy or logs a script error, and each page has one h1 and a language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import unavailable
from tests.web.browser import LiveConsole, chromium, missing_browser, screenshot
from tests.web.support import link_for


@pytest.fixture(autouse=True)
def _needs_browser() -> None:
    if (problem := missing_browser()) is not None:
        unavailable(problem)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveConsole]:
    server = LiveConsole()
    yield server
    server.close()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    d = chromium(tmp_path / "profile")
    yield d
    d.quit()


def well_formed_page(driver: webdriver.Chrome) -> None:
    """One h1, a language, a main landmark, and nothing in the browser's console."""
    assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert driver.find_elements(By.CSS_SELECTOR, "main#main")
    problems = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == [], problems


def wait_for_url(driver: webdriver.Chrome, part: str) -> None:
    WebDriverWait(driver, 30).until(ec.url_contains(part))


def wait_for_heading(driver: webdriver.Chrome, text: str) -> None:
    """Wait until the page's h1 says `text` (a click's new page may still be loading)."""
    WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), text)
    )


def test_sign_in_and_walk_every_page(live: LiveConsole, driver: webdriver.Chrome) -> None:
    driver.get(live.url + "/")
    assert "Sign-in needed" in driver.find_element(By.TAG_NAME, "h1").text
    screenshot(driver, "00-sign-in-needed")
    driver.get_log("browser")  # the 401 of that page is expected

    link = live.url + live.call(link_for(live.console, "carol"))
    driver.get(link)
    well_formed_page(driver)
    screenshot(driver, "01-sign-in-link")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for_url(driver, live.url + "/")
    wait_for_heading(driver, "Systems")
    assert "Signed in as Carol Diaz" in driver.find_element(By.CSS_SELECTOR, ".who").text
    well_formed_page(driver)
    screenshot(driver, "02-systems")

    # A filter: picking a person applies it at once (a little JavaScript).
    Select(driver.find_element(By.NAME, "person")).select_by_visible_text("Bob Ruiz")
    wait_for_url(driver, "person=bob")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.systems tbody tr")
    assert len(rows) == 2
    # And the search box, submitted with Enter.
    search = driver.find_element(By.NAME, "q")
    search.clear()
    search.send_keys("drafter", Keys.ENTER)
    wait_for_url(driver, "q=drafter")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.systems tbody tr")
    assert [r.find_element(By.TAG_NAME, "a").text for r in rows] == ["support-drafter"]
    screenshot(driver, "03-systems-filtered")

    driver.find_element(By.LINK_TEXT, "Clear").click()
    driver.find_element(By.LINK_TEXT, "billing-router").click()
    wait_for_url(driver, "/systems/billing-router")
    wait_for_heading(driver, "Billing ticket router")
    assert "Only Carol Diaz may stop or resume" in driver.find_element(By.ID, "main").text
    charts = driver.find_elements(By.CSS_SELECTOR, ".charts img")
    assert len(charts) == 3 and all(c.get_attribute("alt") for c in charts)
    assert all(
        driver.execute_script("return arguments[0].naturalWidth", c) > 0 for c in charts
    )  # the SVGs decoded and drew
    well_formed_page(driver)
    screenshot(driver, "04-system")

    for label, path, heading, shot in (
        ("Open alerts", "/open-alerts", "Open alerts", "05-alerts"),
        ("Evidence", "/evidence", "Evidence", "06-evidence"),
        ("Registry", "/registry", "Registry", "07-registry"),
        ("Escalation map", "/map", "Escalation map", "08-map"),
    ):
        driver.find_element(By.LINK_TEXT, label).click()
        wait_for_url(driver, path)
        wait_for_heading(driver, heading)
        current = driver.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]")
        assert current.text == label
        well_formed_page(driver)
        screenshot(driver, shot)

    driver.find_element(By.LINK_TEXT, "Open alerts").click()
    wait_for_heading(driver, "Open alerts")
    assert "Carol Diaz (steward)" in driver.find_element(By.TAG_NAME, "table").text
    driver.find_element(By.LINK_TEXT, "Evidence").click()
    wait_for_heading(driver, "Evidence")
    Select(driver.find_element(By.NAME, "action")).select_by_visible_text("alert.acknowledged")
    wait_for_url(driver, "action=alert.acknowledged")
    entries = driver.find_elements(By.CSS_SELECTOR, "ol.timeline > li")
    assert entries and all("alert.acknowledged" in e.text for e in entries)
    assert "Bob Ruiz" in entries[0].text  # the newest first
    assert "The hash chain verifies" in driver.find_element(By.CSS_SELECTOR, ".verdict").text

    # The link was used: opening it again is refused, clearly.
    driver.get(link)
    assert "already used" in driver.find_element(By.CSS_SELECTOR, ".verdict").text
    screenshot(driver, "09-used-link")

    driver.get(live.url + "/")
    driver.find_element(By.CSS_SELECTOR, ".who button").click()
    wait_for_heading(driver, "Signed out")
    driver.get(live.url + "/open-alerts")
    assert "Sign-in needed" in driver.find_element(By.TAG_NAME, "h1").text


def test_pages_work_without_javascript(live: LiveConsole, tmp_path: Path) -> None:
    d = chromium(tmp_path / "profile-nojs")
    try:
        d.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
        d.get(live.url + live.call(link_for(live.console, "alice")))
        d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for_url(d, live.url + "/")
        Select(d.find_element(By.NAME, "flag")).select_by_value("open")
        assert "flag=open" not in d.current_url  # nothing submits by itself without scripts
        d.find_element(By.CSS_SELECTOR, ".filters button[type=submit]").click()
        wait_for_url(d, "flag=open")
        rows = d.find_elements(By.CSS_SELECTOR, "table.systems tbody tr")
        assert len(rows) == 2
    finally:
        d.quit()
