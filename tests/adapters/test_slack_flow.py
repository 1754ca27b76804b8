"""Claim -> escalation -> acknowledge / resolve / hand off, through Slack, wire to wire."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import cards
from bot.domain import AlertState, UserRef
from tests.adapters.slack_standin import ALERTS, SlackEnv, load_fixture, slack_env


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def shown(message: dict[str, Any]) -> str:
    return message.get("text", "") + "\n" + json.dumps(message.get("blocks", []))


async def claimed(env: SlackEnv, fixture: str = "alertmanager_firing.json") -> dict[str, Any]:
    """Send an alert and return the claim message as the stand-in holds it."""
    assert (await env.send_event(load_fixture(fixture))).status == 200
    await env.settle()
    assert len(env.standin.posts(ALERTS)) == 1
    return env.standin.message(ALERTS, claim_ts(env))


def claim_ts(env: SlackEnv) -> str:
    return str(env.standin.posts(ALERTS)[0].answer["ts"])


async def test_claim_escalate_then_acknowledge_stops_escalation(env: SlackEnv) -> None:
    claim = await claimed(env)
    alert_ts = load_fixture("alertmanager_firing.json")["ts"]
    assert claim["thread_ts"] == alert_ts
    assert "escalates to <@U0BOB0002> (maintainer)" in shown(claim)

    await env.tick()  # nothing is due yet
    assert len(env.standin.posts()) == 1

    env.clock.advance(timedelta(minutes=10, seconds=1))
    await env.tick()
    # in the alert's thread, mentioning the next person ...
    [notice] = env.standin.posts(ALERTS, thread=alert_ts)[1:]
    assert "<@U0BOB0002>" in shown(notice.args)
    # ... and a direct message with the alert's link and the buttons
    [opened] = env.standin.calls_to("conversations.open")
    assert opened.args["users"] == "U0BOB0002"
    [dm] = env.standin.posts("D0BOB0002")
    permalink = "https://acme-test.slack.com/archives/C0ALERTS1/p1800000101000100"
    assert f"<{permalink}|View the alert>" in json.dumps(dm.args["blocks"])
    assert action_ids(dm.args["blocks"]) == [cards.ACK, cards.RESOLVE, cards.HAND_OFF]

    # Bob acknowledges from the claim; Slack gets its 200 at once, the claim changes in place
    answer, _ = await env.click(user="U0BOB0002", action_id=cards.ACK, value="1", message=claim)
    assert answer.status == 200
    await env.settle()
    [update] = env.standin.calls_to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (ALERTS, claim_ts(env))
    now = env.standin.message(ALERTS, claim_ts(env))
    assert "Acknowledged: held by <@U0BOB0002> since 2026-11-02 09:10 UTC" in shown(now)
    assert action_ids(now["blocks"]) == [cards.RESOLVE, cards.HAND_OFF]
    alert = await env.alert(1)
    assert alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by == "bob"

    # no further escalation, however long nobody resolves it
    posts_before = len(env.standin.posts())
    env.clock.advance(timedelta(hours=3))
    await env.tick()
    assert len(env.standin.posts()) == posts_before
    assert len(env.standin.calls_to("conversations.open")) == 1
    actions = [e.action for e in await env.audit()]
    assert actions == ["alert.claimed", "alert.escalated", "alert.acknowledged"]


async def test_acknowledge_from_the_direct_message_updates_the_claim(env: SlackEnv) -> None:
    await claimed(env)
    env.clock.advance(timedelta(minutes=11))
    await env.tick()
    assert len(env.standin.posts("D0BOB0002")) == 1
    dm_message = env.standin.message("D0BOB0002", dm_ts(env))
    answer, _ = await env.click(
        user="U0BOB0002", action_id=cards.ACK, value="1", channel="D0BOB0002", message=dm_message
    )
    assert answer.status == 200
    await env.settle()
    [update] = env.standin.calls_to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (ALERTS, claim_ts(env))
    assert (await env.alert(1)).state == AlertState.ACKNOWLEDGED


def dm_ts(env: SlackEnv) -> str:
    return str(env.standin.posts("D0BOB0002")[0].answer["ts"])


async def test_hand_off_moves_the_claim_and_tells_the_new_holder(env: SlackEnv) -> None:
    claim = await claimed(env)
    answer, _ = await env.click(
        user="U0ALICE01",
        action_id=cards.HAND_OFF,
        selected_user="U0DANA004",
        block_id="pick|1",
        message=claim,
    )
    assert answer.status == 200
    await env.settle()

    now = env.standin.message(ALERTS, claim_ts(env))
    assert "Claimed for <@U0DANA004>" in shown(now)
    alert = await env.alert(1)
    assert alert.holder == "dana"
    [dm] = env.standin.posts("D0DANA004")
    assert "Handed to you by Alice Ng" in dm.args["text"]
    [handed] = [e for e in await env.audit() if e.action == "alert.handed_off"]
    assert (handed.actor, handed.detail) == ("alice", {"from": "alice", "to": "dana"})


async def test_hand_off_to_someone_outside_the_registry_changes_nothing(env: SlackEnv) -> None:
    claim = await claimed(env)
    await env.click(
        user="U0ALICE01",
        action_id=cards.HAND_OFF,
        selected_user="U0MALLORY",
        block_id="pick|1",
        message=claim,
    )
    await env.settle()
    assert (await env.alert(1)).holder == "alice"
    assert env.standin.calls_to("chat.update") == []
    [ephemeral] = env.standin.calls_to("chat.postEphemeral")
    assert ephemeral.args["user"] == "U0ALICE01"
    assert "Hand off to a named person" in ephemeral.args["text"]


async def test_a_click_by_someone_the_policy_excludes_is_answered_privately(
    env: SlackEnv,
) -> None:
    claim = await claimed(env)
    for action in (cards.ACK, cards.RESOLVE):
        answer, _ = await env.click(user="U0MALLORY", action_id=action, value="1", message=claim)
        assert answer.status == 200
    await env.settle()

    refusals = env.standin.calls_to("chat.postEphemeral")
    assert len(refusals) == 2
    for refusal in refusals:
        assert refusal.args["user"] == "U0MALLORY"
        assert refusal.args["channel"] == ALERTS
        assert refusal.args["thread_ts"] == claim["thread_ts"]
        assert "Alice Ng holds this alert" in refusal.args["text"] + json.dumps(
            refusal.args["blocks"]
        )
    # mapped back to a person through users.info: Slack says who clicked, not a typed name
    assert [c.args["user"] for c in env.standin.calls_to("users.info")].count("U0MALLORY") == 1
    assert env.standin.calls_to("chat.update") == []
    assert (await env.alert(1)).state == AlertState.OPEN
    refused = [e for e in await env.audit() if e.action == "alert.click_refused"]
    assert [e.actor for e in refused] == ["slack:U0MALLORY", "slack:U0MALLORY"]


async def test_a_person_known_only_by_email_may_resolve(env: SlackEnv) -> None:
    claim = await claimed(env)
    # carol has no Slack id in the registry: her click is mapped back through her email
    await env.click(user="U0CAROL03", action_id=cards.RESOLVE, value="1", message=claim)
    await env.settle()
    alert = await env.alert(1)
    assert alert.state == AlertState.RESOLVED and alert.resolved_by == "carol"
    assert "Resolved by carol" in shown(env.standin.message(ALERTS, claim_ts(env)))


async def test_people_are_found_by_email_and_deactivated_users_are_reported(
    env: SlackEnv,
) -> None:
    slack = env.adapter.platform
    assert await slack.find_user(email="Carol@Example.com") == UserRef("slack", "U0CAROL03")
    assert await slack.find_user(email="carol@example.com") == UserRef("slack", "U0CAROL03")
    assert await slack.find_user(email="nobody@example.com") is None
    assert len(env.standin.calls_to("users.lookupByEmail")) == 2  # cached

    assert await slack.user_active(user=UserRef("slack", "U0GONE006")) is False
    assert await slack.user_active(user=UserRef("slack", "U0ALICE01")) is True
    assert await slack.user_active(user=UserRef("slack", "U0UNKNOWN")) is None
    assert await slack.user_email(user=UserRef("slack", "U0ALICE01")) == "alice@example.com"
    assert len(env.standin.calls_to("users.info")) == 3  # cached


async def test_a_storm_board_acknowledges_all_the_clicker_may(env: SlackEnv) -> None:
    words = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel"]
    for n, word in enumerate(words):
        post = load_fixture("alertmanager_firing.json")
        post.update(ts=f"18000{n:05d}.000100", event_ts=f"18000{n:05d}.000100")
        post["attachments"][0]["title"] = f"[FIRING:1] BillingRouter{word} (billing-router)"
        assert (await env.send_event(post)).status == 200
    await env.settle()
    await env.tick()  # the storm board is drawn
    [board] = [c for c in env.standin.posts(ALERTS) if "thread_ts" not in c.args]
    board_ts = str(board.answer["ts"])
    drawn = env.standin.message(ALERTS, board_ts)
    assert "<@U0ALICE01>" in shown(drawn)
    [button] = [e for b in drawn["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == cards.ACK_BOARD

    answer, _ = await env.click(
        user="U0ALICE01", action_id=button["action_id"], value=button["value"], message=drawn
    )
    assert answer.status == 200
    await env.settle()
    env.clock.advance(timedelta(seconds=3))  # boards are redrawn at most every 2 s
    await env.tick()
    on_board = [a for a in await env.open_alerts() if a.claim and a.claim.id == board_ts]
    assert on_board and all(a.state == AlertState.ACKNOWLEDGED for a in on_board)
    assert "acknowledged" in shown(env.standin.message(ALERTS, board_ts))
