"""Issue 11 items 7 and 8: a passing platform failure (a rate limit longer than the call may
wait, a 5xx, a timeout) keeps an escalation step due and it is sent once the platform
recovers; only a definite "cannot be reached" is recorded and shown. A person not found once
is looked up again soon. Through the real slack_sdk client against the Slack stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.fake import InMemoryPlatform, ManualClock
from bot.people import People
from bot.registry import parse_registry
from tests.adapters.slack_standin import ALERTS, SlackEnv, load_fixture, slack_env
from tests.conftest import EXAMPLE


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


async def _escalations(env: SlackEnv) -> list[dict[str, object]]:
    return [e.detail for e in await env.audit() if e.action == "alert.escalated"]


async def test_a_rate_limit_beyond_the_budget_keeps_the_step_due(env: SlackEnv) -> None:
    await env.send_event(load_fixture("alertmanager_firing.json"))
    await env.settle()
    alert_ts = load_fixture("alertmanager_firing.json")["ts"]
    # Slack asks for a minute's wait: longer than a call may take within the lease
    env.standin.rate_limit("conversations.open", times=1, retry_after=60)

    env.clock.advance(timedelta(minutes=10, seconds=1))
    await env.tick()

    assert env.standin.posts("D0BOB0002") == []
    assert await _escalations(env) == []  # not marked sent "not reached"
    notices = env.standin.posts(ALERTS, thread=alert_ts)[1:]
    assert all("could not be reached" not in str(n.args) for n in notices)
    deferred = env.runtime.metrics.escalations_deferred._value.get()  # type: ignore[attr-defined]
    assert deferred == 1

    env.standin.lift_rate_limits()
    env.clock.advance(timedelta(seconds=31))  # the step's lease lapses
    await env.tick()

    [dm] = env.standin.posts("D0BOB0002")
    assert "billing-router" in str(dm.args)
    [escalated] = await _escalations(env)
    assert escalated["direct_message"] is True


async def test_a_person_slack_does_not_know_is_recorded_and_shown(env: SlackEnv) -> None:
    del env.standin.users["U0BOB0002"]  # Bob left: conversations.open says user_not_found
    await env.send_event(load_fixture("alertmanager_firing.json"))
    await env.settle()

    env.clock.advance(timedelta(minutes=10, seconds=1))
    await env.tick()

    [escalated] = await _escalations(env)
    assert escalated["direct_message"] is False
    alert_ts = load_fixture("alertmanager_firing.json")["ts"]
    notices = [str(n.args) for n in env.standin.posts(ALERTS, thread=alert_ts)[1:]]
    assert any("could not be sent a direct message" in n for n in notices)


async def test_a_miss_is_looked_up_again_once_it_expires() -> None:
    # Bob has no Slack id in the registry and is not in the directory yet (on Teams: the bot
    # has not seen his team's roster). Before the fix the miss was kept until a reload.
    text = "\n".join(
        line for line in EXAMPLE.read_text().splitlines() if "slack: U0BOB" not in line
    )
    registry = parse_registry(text, source="ownership.yaml")
    slack = InMemoryPlatform(name="slack")
    clock = ManualClock()
    people = People(registry=registry, platforms={"slack": slack}, clock=clock)
    assert await people.user("bob", platform="slack") is None
    slack.add_user("U0BOB0002", "bob@example.com")
    assert await people.user("bob", platform="slack") is None  # a miss is kept briefly
    clock.advance(timedelta(minutes=2))
    found = await people.user("bob", platform="slack")
    assert found is not None and found.id == "U0BOB0002"
    # a found answer stays found
    assert await people.user("bob", platform="slack") == found
