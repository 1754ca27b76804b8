"""Socket Mode (SLACK_APP_TOKEN) and what `mount` switches on for which settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.fake import ManualClock
from adapters.runtime import build_runtime
from adapters.server import build_app
from adapters.settings import Settings
from adapters.slack.app import SLACK
from tests.adapters.slack_standin import (
    ALERTS,
    APP_TOKEN,
    FIXTURES,
    SlackEnv,
    SlackStandIn,
    event_callback,
    load_fixture,
    slack_env,
)


def envelope(envelope_id: str, body: dict[str, Any], *, retry: int = 0) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": "events_api",
        "payload": body,
        "accepts_response_payload": False,
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
    }


async def connected(env: SlackEnv) -> None:
    await env.standin.socket_send({"type": "noop"})  # waits for the websocket
    [opened] = env.standin.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"


async def test_socket_mode_claims_an_alert_and_acknowledges_after_storing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack_env(tmp_path, monkeypatch, app_token=True) as env:
        await connected(env)
        body = event_callback(load_fixture("sentry_issue.json"), event_id="Ev0SOCKET1")
        await env.standin.socket_send(envelope("env-1", body))
        ack = await env.standin.socket_ack("env-1")
        assert ack == {"envelope_id": "env-1"}
        [alert] = await env.open_alerts()  # stored when the ack went out
        assert alert.system == "support-drafter"
        await env.settle()
        [claim] = env.standin.posts(ALERTS)
        assert "<@U0BOB0002>" in claim.args["text"]


async def test_socket_mode_storage_failure_is_not_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack_env(tmp_path, monkeypatch, app_token=True) as env:
        await connected(env)
        db = sqlite3.connect(tmp_path / "bot.db")
        db.execute(
            "CREATE TRIGGER refuse_alerts BEFORE INSERT ON alert "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END"
        )
        db.commit()
        body = event_callback(load_fixture("grafana_firing.json"), event_id="Ev0SOCKET2")
        await env.standin.socket_send(envelope("env-2", body))
        assert await env.standin.socket_ack("env-2", within=2) is None  # Slack will resend

        db.execute("DROP TRIGGER refuse_alerts")
        db.commit()
        db.close()
        await env.standin.socket_send(envelope("env-3", body, retry=1))
        assert await env.standin.socket_ack("env-3") == {"envelope_id": "env-3"}
        await env.settle()
        assert len(await env.open_alerts()) == 1
        assert len(env.standin.posts(ALERTS)) == 1


async def serve(tmp_path: Path, **slack: Any) -> tuple[int, bool]:
    """Build the app with some Slack settings; POST /slack/events status, platform present."""
    standin = SlackStandIn()
    await standin.start()
    registry = tmp_path / "ownership.yaml"
    registry.write_text((FIXTURES / "ownership.yaml").read_text().replace("{hooks}", "http://x"))
    settings = Settings(
        ownership_file=str(registry),
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        escalation_tick="1h",  # type: ignore[arg-type]
        stale_scan_cron="0 3 1 1 *",
        slack_api_url=standin.api_url,
        **slack,
    )
    runtime = await build_runtime(settings, clock=ManualClock())
    app = build_app(runtime)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(server.make_url("/slack/events"), data=b"{}") as resp,
        ):
            return resp.status, "slack" in runtime.platforms and SLACK in app
    finally:
        await server.close()
        await standin.close()


async def test_slack_is_off_without_a_bot_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert await serve(tmp_path, slack_signing_secret="s") == (404, False)


async def test_http_mode_needs_the_signing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert await serve(tmp_path, slack_bot_token="xoxb-1") == (404, True)
    assert await serve(tmp_path, slack_bot_token="xoxb-1", slack_signing_secret="s") == (401, True)
