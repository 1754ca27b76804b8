"""Helpers for the hardening tests: the real server with Slack (against the loopback Web API
stand-in) and the HTTP alert intake on, a sender of raw bytes for requests aiohttp's client
will not produce (non-UTF-8 headers), and the "still healthy" check every hostile test ends
with: /healthz answers 200 and the audit chain verifies."""

from __future__ import annotations

import asyncio
import http.client
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from adapters.fake import ManualClock
from adapters.server import Runtime, build_app, build_runtime
from adapters.settings import Settings
from adapters.slack.app import SLACK
from bot.domain import Alert
from bot.evidence import verify_chain
from store.database import make_engine
from tests.adapters import slack_standin
from tests.adapters.slack_standin import SlackStandIn
from tests.conftest import PG_URL, require_postgres

T = TypeVar("T")
INTAKE_TOKEN = "intake-token-hardening-1"
AUTH = {"Authorization": f"Bearer {INTAKE_TOKEN}"}
_PLATFORM_ENV = (
    "SLACK_APP_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "TEAMS_APP_ID",
    "TEAMS_APP_PASSWORD",
    "TEAMS_APP_TENANT_ID",
    "TEAMS_DEV_ANONYMOUS",
    "ALERT_INGEST_TOKEN",
)


@dataclass
class Served:
    """The running server, its Slack stand-in and an HTTP session."""

    url: str
    host: str
    port: int
    runtime: Runtime
    app: web.Application
    standin: SlackStandIn
    http: aiohttp.ClientSession
    clock: ManualClock

    async def post(
        self, path: str, body: bytes, *, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """POST bytes; the status and the text of the answer."""
        async with self.http.post(self.url + path, data=body, headers=headers or {}) as resp:
            return resp.status, await resp.text()

    async def open_alerts(self) -> list[Alert]:
        """Alerts not yet resolved."""
        async with self.runtime.store.transaction() as tx:
            return await tx.alerts.unresolved()

    async def settle(self) -> None:
        """Wait for the work the Slack adapter started after answering."""
        assert await self.runtime.background.drain(within=30), "background work did not finish"

    async def assert_healthy(self) -> None:
        """/healthz answers 200 within 5 s and the evidence chain verifies."""
        async with asyncio.timeout(5):
            async with self.http.get(self.url + "/healthz") as resp:
                assert resp.status == 200, await resp.text()
        async with self.runtime.store.transaction() as tx:
            entries = await tx.evidence.entries()
        assert verify_chain(entries) is None


async def raw_request(host: str, port: int, request: bytes) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request exactly as given; the status and the body."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@asynccontextmanager
async def postgres_url() -> AsyncIterator[str]:
    """A database URL on a fresh PostgreSQL schema, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, database_url: str | None = None
) -> AsyncIterator[Served]:
    """`serve`'s application with Slack (HTTP) and the intake on, on 127.0.0.1."""
    for name in _PLATFORM_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BILLING_ROUTER_STOP_SECRET", slack_standin.STOP_SECRET)
    standin = SlackStandIn()
    await standin.start()
    registry = tmp_path / "ownership.yaml"
    registry.write_text(
        (slack_standin.FIXTURES / "ownership.yaml")
        .read_text()
        .replace("{hooks}", f"{standin.url}/hooks")
    )
    settings = Settings(
        ownership_file=str(registry),
        database_url=database_url or f"sqlite:///{tmp_path / 'bot.db'}",
        slack_bot_token=slack_standin.BOT_TOKEN,  # type: ignore[arg-type]
        slack_signing_secret=slack_standin.SIGNING_SECRET,  # type: ignore[arg-type]
        slack_api_url=standin.api_url,
        alert_ingest_token=INTAKE_TOKEN,  # type: ignore[arg-type]
        escalation_tick="1h",  # type: ignore[arg-type]
        stale_scan_cron="0 3 1 1 *",
    )
    clock = ManualClock()
    runtime = await build_runtime(settings, clock=clock)
    app = build_app(runtime)
    app[SLACK].platform.pacer.interval = 0.0
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as http:
            yield Served(f"http://{host}:{port}", host, port, runtime, app, standin, http, clock)
    finally:
        await runner.cleanup()
        await standin.close()


class InThread:
    """A server started by `served` on an event loop of its own thread, so synchronous
    Hypothesis tests can send it requests with a blocking client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._stack = AsyncExitStack()
        self.server: Served | None = None

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def start(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Served:
        """Enter `served` on the thread's loop."""
        self.server = self.run(self._stack.enter_async_context(served(tmp_path, monkeypatch)))
        return self.server

    def close(self) -> None:
        """Leave `served` and stop the loop."""
        self.run(self._stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST with a blocking client; the status. A hang fails the caller (10 s timeout)."""
        assert self.server is not None
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()
