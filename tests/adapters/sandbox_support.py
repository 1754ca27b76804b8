"""The sandbox served on loopback by the real composition root and routes, over a SQLite file,
for the HTTP and browser tests."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.runtime import build_runtime
from adapters.server import build_app
from adapters.settings import Settings
from adapters.web.sandbox.core import Sandbox
from bot.service import AccountabilityService
from tests.conftest import EXAMPLE


@dataclass
class Running:
    """A sandbox being served, and the parts tests look at."""

    client: TestClient[web.Request, web.Application]
    sandbox: Sandbox
    service: AccountabilityService

    @property
    def base(self) -> str:
        """The sandbox's address."""
        return str(self.client.make_url("/sandbox/"))


@asynccontextmanager
async def serve_sandbox(tmp_path: Path, *, host: str = "127.0.0.1") -> AsyncIterator[Running]:
    """`serve` on the example registry with no chat platform (so the sandbox is on), on an
    OS-assigned loopback port: the composition root and the routes production uses."""
    settings = Settings(
        ownership_file=str(EXAMPLE),
        database_url=f"sqlite:///{tmp_path / 'sandbox.db'}",
        slack_bot_token=None,
        slack_app_token=None,
        teams_app_id=None,
        teams_app_password=None,
        sandbox=None,
        escalation_tick="1h",  # the page's clock control runs the tick itself
        stale_scan_cron="0 3 1 1 *",
    )
    runtime = await build_runtime(settings)
    assert runtime.sandbox is not None
    client = TestClient(TestServer(build_app(runtime), host=host))
    await client.start_server()
    runtime.sandbox.actions.receiver_base = str(client.make_url("")).rstrip("/")
    try:
        yield Running(client, runtime.sandbox, runtime.service)
    finally:
        await client.close()


def card_buttons(html: str) -> list[tuple[str, str, str]]:
    """(action, value, message id) of every button form on a page, in order."""
    found = []
    for form in re.findall(r'<form method="post" action="/sandbox/click">(.*?)</form>', html, re.S):
        fields = dict(re.findall(r'name="(action|value|message)" value="([^"]*)"', form))
        found.append((fields["action"], fields["value"], fields["message"]))
    return found


@contextmanager
def sandbox_in_thread(tmp_path: Path) -> Iterator[Running]:
    """Serve the sandbox from an event loop of its own, for blocking clients (a browser)."""
    started: Future[Running] = Future()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with serve_sandbox(tmp_path) as run:
                started.set_result(run)
                await stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        yield started.result(timeout=60)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
