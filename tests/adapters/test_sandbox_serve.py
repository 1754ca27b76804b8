"""The sandbox as `serve` builds it: on only without a chat platform (or when forced), absent
otherwise with its act-as and clock routes, and announced on start by the real command."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.fake import ManualClock
from adapters.runtime import Runtime, build_runtime
from adapters.server import build_app
from adapters.settings import Settings
from adapters.web.sandbox.wiring import enabled
from tests.conftest import EXAMPLE, ROOT

BOT = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "accountability-bot"
SANDBOX_ROUTES = [
    ("GET", "/sandbox/"),
    ("GET", "/sandbox/c/C0ALERTS1"),
    ("POST", "/sandbox/as"),
    ("POST", "/sandbox/clock"),
    ("POST", "/sandbox/alert"),
    ("POST", "/sandbox/click"),
]


def settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        ownership_file=str(EXAMPLE),
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        **extra,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def served(config: Settings) -> AsyncIterator[tuple[TestClient, Runtime]]:  # type: ignore[type-arg]
    runtime = await build_runtime(config, clock=ManualClock())
    client = TestClient(TestServer(build_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, runtime
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("extra", "on"),
    [
        ({}, True),
        ({"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}, False),
        ({"slack_app_token": "xapp-1"}, True),  # Slack stays off without its bot token
        ({"teams_app_id": "app", "teams_app_password": "pw"}, False),
        ({"teams_app_password": "pw"}, True),
        ({"sandbox": False}, False),
        ({"sandbox": True, "slack_bot_token": "xoxb-1"}, True),
    ],
)
def test_on_only_without_a_chat_platform_unless_forced(
    tmp_path: Path, extra: dict[str, object], on: bool
) -> None:
    assert enabled(settings(tmp_path, **extra)) is on


def test_the_environment_forces_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for value, on in (("1", True), ("0", False), ("", True), ("true", True), ("off", False)):
        monkeypatch.setenv("SANDBOX", value)
        assert enabled(Settings()) is on, value


async def test_on_by_default_with_no_chat_platform(tmp_path: Path) -> None:
    async with served(settings(tmp_path)) as (client, runtime):
        assert runtime.sandbox is not None and "web" in runtime.platforms
        home = await client.get("/sandbox/", allow_redirects=True)
        assert home.status == 200 and "/sandbox/c/" in str(home.url)
        page = await home.text()
        assert "Sandbox" in page and "Acting as" in page and "+10m" in page
        assert (await client.get("/healthz")).status == 200


@pytest.mark.parametrize(
    "extra",
    [{"sandbox": False}, {"slack_bot_token": "xoxb-1", "slack_signing_secret": "secret"}],
)
async def test_absent_when_off(tmp_path: Path, extra: dict[str, object]) -> None:
    async with served(settings(tmp_path, **extra)) as (client, runtime):
        assert runtime.sandbox is None and "web" not in runtime.platforms
        for method, path in SANDBOX_ROUTES:
            answer = await client.request(method, path, data={"person": "carol", "by": "30d"})
            assert answer.status == 404, (method, path)


async def test_forced_next_to_slack_stays_harmless(tmp_path: Path) -> None:
    config = settings(
        tmp_path, sandbox=True, slack_bot_token="xoxb-1", slack_signing_secret="secret"
    )
    async with served(config) as (client, runtime):
        assert runtime.sandbox is not None
        assert runtime.service.context.stop_runner is runtime.sandbox.actions
        answer = await client.get("/sandbox/", headers={"X-Forwarded-For": "198.51.100.7"})
        assert answer.status == 403


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_prints_the_sandbox_address(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TEAMS_", "ALERT_", "DATABASE_", "OWNERSHIP_", "SANDBOX"))
    }
    env.update(
        OWNERSHIP_FILE=str(EXAMPLE),
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        PORT=str(port),
        HOST="127.0.0.1",
    )
    bot = subprocess.Popen(
        [str(BOT), "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert bot.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline and "Sandbox" not in line:
            ready, _, _ = select.select([bot.stdout], [], [], 1)
            if ready:
                line = bot.stdout.readline()
            assert bot.poll() is None, "serve exited"
        address = f"http://localhost:{port}/sandbox/"
        assert address in line
        with urllib.request.urlopen(address, timeout=10) as page:
            assert page.status == 200 and "Sandbox" in page.read().decode()
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=30)
