"""A real headless Chromium (Debian's package, driven by its chromedriver) and the console
served on a loopback port from a thread of its own, so blocking WebDriver calls never stall
the server's event loop."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from adapters.fake import ManualClock
from adapters.web.console import Console
from bot.registry import load_registry
from store.database import SqlStore
from tests.conftest import sqlite_store
from tests.web.support import EXAMPLE, build_console, history, make_service, seed

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    return None


def chromium(profile: Path) -> webdriver.Chrome:
    """Headless Chromium with a fresh profile and nothing that calls home."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the whole page (not just the window) under the results folder."""
    RESULTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height), 600), 4000))
    path = RESULTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


class LiveConsole:
    """The console over a seeded SQLite store, listening on 127.0.0.1 in its own thread."""

    def __init__(self, *, open_mode: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="console-"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.open_mode = open_mode
        self.console: Console
        self.clock = ManualClock()
        self.ids: dict[str, int] = {}
        self.url = self.call(self._start())

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(60)

    async def _start(self) -> str:
        self.store: SqlStore = await sqlite_store(self.dir / "bot.db")
        registry = load_registry(EXAMPLE)
        service = make_service(self.store, registry, self.clock)
        await history(service, self.clock)
        self.ids = await seed(service, self.clock)
        app, self.console, _ = build_console(
            self.store, registry, self.clock, open_mode=self.open_mode
        )
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        """Stop the server and its loop."""
        self.call(self.runner.cleanup())
        self.call(self.store.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        shutil.rmtree(self.dir, ignore_errors=True)
