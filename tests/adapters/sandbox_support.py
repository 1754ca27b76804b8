"""A sandbox served on loopback over a real store, for the HTTP and browser tests. Wired the
way the composition root wires it: the web platform, the sandbox clock and the harmless stop
actions given to the real service."""

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

from adapters.web.sandbox import pages
from adapters.web.sandbox.actions import SandboxActions
from adapters.web.sandbox.clock import SandboxClock
from adapters.web.sandbox.core import Sandbox
from adapters.web.sandbox.platform import WebPlatform
from bot.registry import load_registry
from bot.service import AccountabilityService
from tests.conftest import EXAMPLE, sqlite_store


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
    """Serve the example registry's sandbox on an OS-assigned loopback port."""
    registry = load_registry(EXAMPLE)
    store = await sqlite_store(tmp_path / "sandbox.db")
    clock = SandboxClock()
    holder: dict[str, AccountabilityService] = {}
    platform = WebPlatform(people=lambda: holder["service"].registry.people, clock=clock)
    actions = SandboxActions(workdir=EXAMPLE.parent, clock=clock, environ={"PATH": "/usr/bin"})
    service = AccountabilityService(
        registry=registry,
        store=store,
        platforms={platform.name: platform},
        clock=clock,
        stop_runner=actions,
    )
    holder["service"] = service
    sandbox = Sandbox(core=service, platform=platform, clock=clock, actions=actions)
    app = web.Application()
    pages.mount(app, sandbox)
    server = TestServer(app, host=host)
    client = TestClient(server)
    await client.start_server()
    actions.receiver_base = str(client.make_url("")).rstrip("/")
    try:
        yield Running(client, sandbox, service)
    finally:
        await client.close()
        await store.close()


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
