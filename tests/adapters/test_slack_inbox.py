"""The Slack event route into the inbox (issue 12): a message event in a watched channel is
answered once durably recorded, and the alert is stored and claimed after the answer by the
inbox worker; events the bot cannot use are answered without being recorded."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.slack_standin import (
    ALERTS,
    SlackEnv,
    event_callback,
    load_fixture,
    slack_env,
)


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


def deliveries(tmp_path: Path) -> list[tuple[str, str, bool]]:
    """(delivery id, kind, done) of every recorded delivery."""
    with sqlite3.connect(tmp_path / "bot.db") as db:
        rows = db.execute(
            "SELECT delivery_id, kind, done_at IS NOT NULL FROM inbox_delivery ORDER BY id"
        ).fetchall()
    return [(d, k, bool(done)) for d, k, done in rows]


async def test_an_event_is_recorded_before_its_answer_and_claimed_after(
    env: SlackEnv, tmp_path: Path
) -> None:
    body = json.dumps(
        event_callback(load_fixture("alertmanager_firing.json"), event_id="Ev0INBOX1")
    ).encode()
    answer = await env.post_raw(body, work_off=False)
    assert answer.status == 200
    assert [d for d, _, _ in deliveries(tmp_path)] == ["Ev0INBOX1"]  # recorded first

    await env.work_off()
    await env.settle()
    assert deliveries(tmp_path) == [("Ev0INBOX1", "slack_event", True)]
    [alert] = await env.open_alerts()
    assert alert.system == "billing-router"
    assert len(env.standin.posts(ALERTS)) == 1

    again = await env.post_raw(body, headers={"X-Slack-Retry-Num": "1"})  # Slack retries
    await env.settle()
    assert again.status == 200
    assert len(deliveries(tmp_path)) == 1
    assert len(await env.open_alerts()) == 1
    assert len(env.standin.posts(ALERTS)) == 1


async def test_events_that_cannot_be_alerts_are_answered_without_recording(
    env: SlackEnv, tmp_path: Path
) -> None:
    elsewhere = load_fixture("alertmanager_firing.json")
    elsewhere["channel"] = "C0NOTWATCHED"
    assert (await env.send_event(elsewhere, event_id="Ev0ELSEWHERE")).status == 200
    reaction = {"type": "reaction_added", "user": "U0ALICE01", "reaction": "eyes"}
    assert (await env.send_event(reaction, event_id="Ev0REACTION")).status == 200
    await env.settle()
    assert deliveries(tmp_path) == []
    assert await env.open_alerts() == []


async def test_the_bots_own_posts_are_not_taken_even_before_it_knows_itself(
    env: SlackEnv, tmp_path: Path
) -> None:
    own = load_fixture("alertmanager_firing.json")
    own.pop("bot_id", None)
    own.update(user="U0BOT0001", subtype=None)
    own.pop("subtype")
    env.adapter.platform._identity = None  # type: ignore[attr-defined]
    answer = await env.send_event(own, event_id="Ev0OWNPOST")
    await env.settle()
    assert answer.status == 200
    assert await env.open_alerts() == []
