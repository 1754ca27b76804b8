"""Issue 11 item 5 on POST /slack/events: requests that used to answer 500 (or 503 on every
redelivery) are a 4xx, ignored, or taken, and the server stays healthy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.evidence import verify_chain
from tests.adapters.hostile import raw_request
from tests.adapters.slack_standin import (
    ALERTS,
    SlackEnv,
    event_callback,
    signed_headers,
    slack_env,
)


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


async def assert_healthy(env: SlackEnv) -> None:
    async with env.session.get(str(env.server.make_url("/healthz"))) as resp:
        assert resp.status == 200
    assert verify_chain(await env.audit()) is None


def _message(**fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": ALERTS,
        "user": "U0BOB0002",
        "text": "billing-router: error rate above threshold",
        "ts": "1800000000.000100",
        **fields,
    }


@pytest.mark.parametrize("signature", ["v0=é", "v0=\u2603" + "0" * 63, "é"])
async def test_non_ascii_signature_is_401(env: SlackEnv, signature: str) -> None:
    body = json.dumps(event_callback(_message())).encode()
    stamp = signed_headers(body)["X-Slack-Request-Timestamp"]
    request = (
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n"
        b"X-Slack-Request-Timestamp: " + stamp.encode() + b"\r\n"
        b"X-Slack-Signature: " + signature.encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    status, _ = await raw_request(str(env.server.host), int(env.server.port or 0), request)

    assert status == 401
    assert await env.open_alerts() == []
    await assert_healthy(env)


@pytest.mark.parametrize("depth", [100, 1000, 50_000])
async def test_signed_json_nested_deep_is_400(env: SlackEnv, depth: int) -> None:
    body = b'{"type": "event_callback", "x": ' + b"[" * depth + b"]" * depth + b"}"
    answer = await env.post_raw(body)
    assert answer.status == 400, answer
    await assert_healthy(env)


@pytest.mark.parametrize("depth", [100, 1000])
async def test_signed_payload_form_nested_deep_is_400(env: SlackEnv, depth: int) -> None:
    payload = '{"type": "block_actions", "x": ' + "{" * 0 + '{"a":' * depth + "1" + "}" * depth
    body = ("payload=" + quote(payload + "}")).encode()
    answer = await env.post_raw(body, content_type="application/x-www-form-urlencoded")
    assert answer.status == 400, answer
    await assert_healthy(env)


@pytest.mark.parametrize("subtype", [["bot_message"], {"a": 1}, 7])
async def test_subtype_not_a_string_is_refused_or_ignored(env: SlackEnv, subtype: Any) -> None:
    answer = await env.send_event(_message(subtype=subtype))
    assert answer.status in (200, 400), answer
    edited = _message(
        subtype="message_changed", message=_message(subtype=subtype, text="[RESOLVED] x")
    )
    answer = await env.send_event(edited)
    assert answer.status in (200, 400), answer
    await env.settle()
    assert await env.open_alerts() == []
    await assert_healthy(env)


async def test_lone_surrogate_and_nul_in_text_and_event_id_are_stored(env: SlackEnv) -> None:
    raw = json.dumps(
        event_callback(
            _message(text="billing-router: latency \ud83d\x00 high"), event_id="Ev\udc00"
        )
    ).encode()

    answer = await env.post_raw(raw)

    assert answer.status == 200, answer
    await env.settle()
    (alert,) = await env.open_alerts()
    assert alert.system == "billing-router"
    assert "\ud83d" not in alert.title and "\x00" not in alert.title
    # Slack's redelivery of the same bytes is the same delivery
    assert (await env.post_raw(raw, headers={"X-Slack-Retry-Num": "1"})).status == 200
    await env.settle()
    assert len(await env.open_alerts()) == 1
    await assert_healthy(env)


@pytest.mark.parametrize(
    "change",
    [
        {"event": _message(channel=False)},
        {"team_id": {"a": 1}, "authorizations": [{"team_id": {"\x00": 1}, "user_id": 2}]},
        {"authorizations": [7]},
        {"event": _message(user={"id": ["U0"]})},
    ],
    ids=["channel-bool", "team-id-object", "authorization-not-object", "user-id-list"],
)
async def test_ids_of_the_wrong_type_are_400(env: SlackEnv, change: dict[str, Any]) -> None:
    # found by test_fuzz_http: Bolt read these ids assuming Slack's types (500 before)
    body = event_callback(_message())
    body.update(change)
    answer = await env.post_raw(json.dumps(body).encode())
    assert answer.status == 400, answer
    await assert_healthy(env)
