"""HTTP 429 from Slack: wait `Retry-After`, retry, lose nothing; bursts are paced per channel.

The stand-in behaves like Slack: a call that comes back before the announced `Retry-After`
has passed is refused again, so a claim only gets through if the client really waited.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.slack_standin import ALERTS, SlackEnv, load_fixture, slack_env


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


def rate_limited_total(env: SlackEnv) -> float:
    value = env.runtime.metrics.registry.get_sample_value(
        "accountability_rate_limited_total", {"platform": "slack"}
    )
    return value or 0.0


def alert_post(n: int, word: str) -> dict[str, Any]:
    post = load_fixture("alertmanager_firing.json")
    ts = f"18000{n:05d}.000100"
    post.update(ts=ts, event_ts=ts)
    post["attachments"][0]["title"] = f"[FIRING:1] BillingRouter{word} (billing-router critical)"
    return post


async def test_429_then_success_loses_nothing(env: SlackEnv) -> None:
    env.standin.rate_limit("chat.postMessage", times=2, retry_after=1)
    answer = await env.send_event(load_fixture("alertmanager_firing.json"))
    assert answer.status == 200  # Slack's answer does not wait for the rate limit
    await env.settle()

    refused = [c for c in env.standin.calls_to("chat.postMessage", ok=False) if c.status == 429]
    assert len(refused) == 2
    [claim] = env.standin.posts(ALERTS)
    assert "<@U0ALICE01>" in claim.args["text"]
    assert rate_limited_total(env) == 2

    # escalation under rate limits: the DM and the thread post both get through
    env.standin.rate_limit("conversations.open", times=1, retry_after=1)
    env.standin.rate_limit("chat.postMessage", times=1, retry_after=1)
    env.clock.advance(timedelta(minutes=11))
    await env.tick()
    assert len(env.standin.posts("D0BOB0002")) == 1
    assert len(env.standin.posts(ALERTS)) == 2
    assert [e.action for e in await env.audit()] == ["alert.claimed", "alert.escalated"]


WORDS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India"]


async def test_a_burst_is_paced_per_channel_and_every_claim_is_posted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack_env(tmp_path, monkeypatch, post_interval=0.05) as env:
        # Slack would refuse a second post to one channel within 40 ms
        env.standin.channel_window = 0.04
        answers = await asyncio.gather(
            *(env.send_event(alert_post(n, word)) for n, word in enumerate(WORDS))
        )
        assert {a.status for a in answers} == {200}
        await env.settle()

        assert [c for c in env.standin.calls if c.status == 429] == []
        claims = env.standin.posts(ALERTS)
        assert sorted(c.args["thread_ts"] for c in claims) == sorted(
            alert_post(n, w)["ts"] for n, w in enumerate(WORDS)
        )
        assert len(await env.open_alerts()) == len(WORDS)


async def test_a_burst_meeting_a_rate_limit_loses_nothing(env: SlackEnv) -> None:
    env.standin.rate_limit("chat.postMessage", times=1, retry_after=1)
    answers = await asyncio.gather(
        *(env.send_event(alert_post(n, word)) for n, word in enumerate(WORDS[:5]))
    )
    assert {a.status for a in answers} == {200}
    await env.settle()
    claims = env.standin.posts(ALERTS)
    assert len(claims) == 5
    assert len({c.args["thread_ts"] for c in claims}) == 5
    assert rate_limited_total(env) >= 1
    for claim in claims:
        assert "<@U0ALICE01>" in json.dumps(claim.args["blocks"])
