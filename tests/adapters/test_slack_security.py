"""Bad input on POST /slack/events: forged, unsigned or replayed requests get 401 and change
nothing; malformed bodies get a 4xx, never a 5xx."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.adapters.slack_standin import (
    SIGNING_SECRET,
    SlackEnv,
    event_callback,
    load_fixture,
    signed_headers,
    slack_env,
    slack_signature,
)


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


async def assert_nothing_happened(env: SlackEnv) -> None:
    await env.settle()
    assert await env.open_alerts() == []
    assert await env.audit() == []
    assert [c.method for c in env.standin.calls if c.method != "auth.test"] == []


def test_the_harness_signs_exactly_as_slack_does() -> None:
    body = b'{"type":"event_callback"}'
    stamp = str(int(time.time()))
    expected = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    assert slack_signature(SIGNING_SECRET, stamp, body) == expected


ALERT = json.dumps(event_callback(load_fixture("alertmanager_firing.json"))).encode()


async def test_forged_signature_is_refused(env: SlackEnv) -> None:
    forged = signed_headers(ALERT, secret="not-the-signing-secret")
    answer = await env.post_raw(ALERT, sign=False, headers=forged)
    assert answer.status == 401
    await assert_nothing_happened(env)


async def test_unsigned_request_is_refused(env: SlackEnv) -> None:
    answer = await env.post_raw(ALERT, sign=False)
    assert answer.status == 401
    await assert_nothing_happened(env)


@pytest.mark.parametrize("offset", [-301, -3600, 301])
async def test_stale_or_future_timestamp_is_refused(env: SlackEnv, offset: int) -> None:
    answer = await env.post_raw(ALERT, timestamp=int(time.time()) + offset)
    assert answer.status == 401
    await assert_nothing_happened(env)


async def test_a_signature_for_another_body_is_refused(env: SlackEnv) -> None:
    other = json.dumps(event_callback(load_fixture("grafana_firing.json"))).encode()
    answer = await env.post_raw(ALERT, sign=False, headers=signed_headers(other))
    assert answer.status == 401
    await assert_nothing_happened(env)


async def test_a_timestamp_that_is_not_a_number_is_refused(env: SlackEnv) -> None:
    headers = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}
    answer = await env.post_raw(ALERT, sign=False, headers=headers)
    assert answer.status == 401
    await assert_nothing_happened(env)


MALFORMED_JSON = [
    b"{not json",
    b"[1, 2, 3]",
    b'"just a string"',
    b"{}",
    b'{"type": "event_callback", "event": "not an object", "event_id": "Ev1"}',
    b'{"type": "event_callback", "event": {"type": "message"}}',
    b'{"type": "event_callback", "event_id": "Ev1", "event": {"type": "message",'
    b' "channel": "C0ALERTS1", "ts": "1.2", "attachments": "oops"}}',
    b'{"type": "block_actions"}',
    b'{"type": "block_actions", "user": {"id": "U0BOB0002"}, "actions": "ack"}',
    b'{"type": "url_verification"}',
    b"\xff\xfe\x00garbage",
    b"",
]


@pytest.mark.parametrize("body", MALFORMED_JSON)
async def test_malformed_json_gets_a_4xx(env: SlackEnv, body: bytes) -> None:
    answer = await env.post_raw(body, content_type="application/json")
    assert 400 <= answer.status < 500, answer
    await assert_nothing_happened(env)


MALFORMED_FORMS = [
    b"payload=%7Bnot-json",
    b"payload=%5B%5D",
    b"payload=",
    urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})}).encode(),
    urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"}})}).encode(),
    b"command=%2Fstop&text=billing-router",  # no user
    b"%%%=&&==",
    b"a=b",
]


@pytest.mark.parametrize("body", MALFORMED_FORMS)
async def test_malformed_form_gets_a_4xx(env: SlackEnv, body: bytes) -> None:
    answer = await env.post_raw(body, content_type="application/x-www-form-urlencoded")
    assert 400 <= answer.status < 500, answer
    await assert_nothing_happened(env)


async def test_url_verification_echoes_the_challenge(env: SlackEnv) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV"}).encode()
    answer = await env.post_raw(body)
    assert answer.status == 200
    assert "3eZbrw1aBm2rZgRNFdxV" in answer.text


async def test_unsigned_url_verification_is_refused(env: SlackEnv) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "x"}).encode()
    assert (await env.post_raw(body, sign=False)).status == 401


async def test_events_the_bot_does_not_use_are_acknowledged(env: SlackEnv) -> None:
    answer = await env.send_event({"type": "app_home_opened", "user": "U0BOB0002", "tab": "home"})
    assert answer.status == 200  # not 404: Slack would keep resending
    await assert_nothing_happened(env)
