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


async def test_a_burst_is_paced_per_channel_and_every_alert_is_claimed(
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
        await env.tick()  # the storm board is drawn

        assert [c for c in env.standin.calls if c.status == 429] == []
        # every alert is attributed to a named person in a message Slack accepted: its own
        # claim in its thread, or (past the core's channel pace) the channel's storm board
        alerts = await env.open_alerts()
        assert len(alerts) == len(WORDS)
        for alert in alerts:
            assert alert.claim is not None
            shown = env.standin.message(ALERTS, alert.claim.id)
            assert "<@U0ALICE01>" in shown["text"] + json.dumps(shown["blocks"])
        threads = [c.args.get("thread_ts") for c in env.standin.posts(ALERTS)]
        own = [t for t in threads if t]
        assert len(own) == len(set(own))  # nothing claimed twice


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


async def test_a_rate_limit_longer_than_the_call_may_wait_is_left_to_the_lease(
    env: SlackEnv,
) -> None:
    # A claim post waits at most a third of the core's lease; waiting longer would let the
    # lease lapse and the claim be posted twice.
    assert env.adapter.platform.call_budget == 10.0
    env.adapter.platform.call_budget = 0.5
    env.standin.rate_limit("chat.postMessage", times=1, retry_after=30)
    assert (await env.send_event(load_fixture("alertmanager_firing.json"))).status == 200
    await env.settle()
    assert env.standin.posts(ALERTS) == []  # gave up at once instead of sleeping 30 s
    assert len(await env.open_alerts()) == 1  # stored: nothing is lost

    env.standin.lift_rate_limits()
    await env.tick()  # the lease has not lapsed: nobody posts it twice
    assert env.standin.posts(ALERTS) == []
    env.clock.advance(timedelta(seconds=31))
    await env.tick()
    await env.tick()
    [claim] = env.standin.posts(ALERTS)
    assert claim.args["thread_ts"] == load_fixture("alertmanager_firing.json")["ts"]


async def test_a_channel_queue_longer_than_the_call_may_wait_is_left_to_the_lease(
    env: SlackEnv,
) -> None:
    slack = env.adapter.platform
    slack.pacer.interval = 1.0  # one post per second in this channel ...
    slack.call_budget = 0.2  # ... and a call may wait 0.2 s for its turn
    answers = await asyncio.gather(
        *(env.send_event(alert_post(n, word)) for n, word in enumerate(WORDS[:4]))
    )
    assert {a.status for a in answers} == {200}
    await env.settle()
    assert len(env.standin.posts(ALERTS)) == 1  # the others gave up waiting

    slack.pacer.interval, slack.call_budget = 0.0, 10.0  # Slack has room again
    env.clock.advance(timedelta(seconds=31))
    await env.tick()
    claims = env.standin.posts(ALERTS)
    assert sorted(c.args["thread_ts"] for c in claims) == sorted(
        alert_post(n, w)["ts"] for n, w in enumerate(WORDS[:4])
    )  # every alert claimed, none twice
    env.clock.advance(timedelta(seconds=31))
    await env.tick()
    assert len(env.standin.posts(ALERTS)) == 4
