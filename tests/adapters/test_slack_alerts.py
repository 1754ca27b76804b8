"""Watching Slack channels: monitoring posts become claimed alerts, wire to wire.

Every test runs the real bot (build_runtime/build_app, SQLite temp file, ManualClock) behind
aiohttp on 127.0.0.1, sends it Events API callbacks signed as Slack signs them, and reads
what the real slack_sdk client did from the Slack stand-in.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import cards
from bot.domain import AlertState
from tests.adapters.slack_standin import (
    ALERTS,
    BOT_ID,
    BOT_USER,
    SlackEnv,
    event_callback,
    load_fixture,
    slack_env,
)


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def blocks_text(call_args: dict[str, Any]) -> str:
    return call_args.get("text", "") + "\n" + json.dumps(call_args.get("blocks", []))


FORMATS = [
    # fixture, system, operator's Slack id
    ("alertmanager_firing.json", "billing-router", "U0ALICE01"),
    ("grafana_firing.json", "support-drafter", "U0BOB0002"),
    ("datadog_triggered.json", "risk-scorer", "U0DANA004"),
    ("pagerduty_triggered.json", "billing-router", "U0ALICE01"),
    ("sentry_issue.json", "support-drafter", "U0BOB0002"),
]


@pytest.mark.parametrize(("fixture", "system", "operator"), FORMATS)
async def test_each_monitoring_format_is_matched_and_claimed(
    env: SlackEnv, fixture: str, system: str, operator: str
) -> None:
    event = load_fixture(fixture)
    answer = await env.send_event(event)
    assert answer.status == 200
    # stored before Slack got its 200
    [alert] = await env.open_alerts()
    assert alert.system == system
    assert alert.source is not None and alert.source.id == event["ts"]
    await env.settle()

    [claim] = env.standin.posts(ALERTS)
    assert claim.args["thread_ts"] == event["ts"]  # a reply in the alert's thread
    assert f"<@{operator}>" in claim.args["text"]
    assert f"<@{operator}>" in json.dumps(claim.args["blocks"])
    assert action_ids(claim.args["blocks"]) == [cards.ACK, cards.RESOLVE, cards.HAND_OFF]
    picker = [e for b in claim.args["blocks"] if b["type"] == "actions" for e in b["elements"]][-1]
    assert picker["type"] == "users_select"
    claimed = [e for e in await env.audit() if e.action == "alert.claimed"]
    assert [(e.system, e.alert_id) for e in claimed] == [(system, alert.id)]


@pytest.mark.parametrize(
    ("firing", "resolved"),
    [
        ("alertmanager_firing.json", "alertmanager_resolved.json"),
        ("grafana_firing.json", "grafana_resolved.json"),
        ("datadog_triggered.json", "datadog_recovered.json"),
        # PagerDuty edits its incident message in place: message_changed to "Resolved"
        ("pagerduty_triggered.json", "pagerduty_resolved_edit.json"),
    ],
)
async def test_a_resolved_post_resolves_the_open_alert(
    env: SlackEnv, firing: str, resolved: str
) -> None:
    assert (await env.send_event(load_fixture(firing))).status == 200
    await env.settle()
    [claim] = env.standin.posts(ALERTS)

    assert (await env.send_event(load_fixture(resolved))).status == 200
    await env.settle()

    assert await env.open_alerts() == []
    alert = await env.alert(1)
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_by == "monitor"
    # the claim is updated in place; nothing new is claimed
    assert env.standin.posts(ALERTS) == [claim]
    [update] = env.standin.calls_to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (ALERTS, claim.answer["ts"])
    current = env.standin.message(ALERTS, update.args["ts"])
    assert "Resolved" in current["text"] + json.dumps(current["blocks"])
    assert action_ids(current["blocks"]) == ["alert.review"]  # resolved: only Review
    assert any(e.action == "alert.resolved" for e in await env.audit())


async def test_a_repeat_of_an_open_alert_is_counted_on_its_claim(env: SlackEnv) -> None:
    first = load_fixture("alertmanager_firing.json")
    again = load_fixture("alertmanager_firing.json")
    again.update(ts="1800000161.000100", event_ts="1800000161.000100")
    again["attachments"][0]["title"] = "[FIRING:2] BillingRouterErrorRate (billing-router critical)"
    await env.send_event(first)
    await env.settle()
    await env.send_event(again)
    await env.settle()
    await env.tick()  # repeats are redrawn together, at most every few seconds

    assert len(env.standin.posts(ALERTS)) == 1
    [update] = env.standin.calls_to("chat.update")
    assert "*Repeats*\\n1" in json.dumps(update.args["blocks"])
    assert (await env.alert(1)).repeats == 1


async def test_a_retried_event_is_claimed_once(env: SlackEnv) -> None:
    body = event_callback(load_fixture("alertmanager_firing.json"), event_id="Ev0RETRY01")
    first = await env.send_body(body)
    retried = await env.send_body(body, retry=1)
    again = await env.send_body(body, retry=2)
    assert (first.status, retried.status, again.status) == (200, 200, 200)
    await env.settle()

    assert len(env.standin.posts(ALERTS)) == 1
    assert len(await env.open_alerts()) == 1
    assert [e.action for e in await env.audit()].count("alert.claimed") == 1


async def test_storage_failure_answers_an_error_then_the_redelivery_is_claimed(
    env: SlackEnv, tmp_path: Path
) -> None:
    body = event_callback(load_fixture("grafana_firing.json"), event_id="Ev0STORE01")
    # A real storage failure: the database refuses to record deliveries.
    db = sqlite3.connect(tmp_path / "bot.db")
    db.execute(
        "CREATE TRIGGER refuse_deliveries BEFORE INSERT ON inbox_delivery "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END"
    )
    db.commit()

    failed = await env.send_body(body)
    await env.settle()
    assert failed.status == 503  # not acknowledged: Slack will deliver it again
    assert await env.open_alerts() == []
    assert env.standin.posts() == []

    db.execute("DROP TRIGGER refuse_deliveries")
    db.commit()
    db.close()
    redelivered = await env.send_body(body, retry=1)
    await env.settle()
    assert redelivered.status == 200
    [alert] = await env.open_alerts()
    assert alert.system == "support-drafter"
    assert len(env.standin.posts(ALERTS)) == 1  # the failed attempt left nothing behind


async def test_a_failure_after_recording_delays_the_alert_and_never_loses_it(
    env: SlackEnv, tmp_path: Path
) -> None:
    body = event_callback(load_fixture("grafana_firing.json"), event_id="Ev0STORE02")
    # Recording works; storing the alert itself fails for a while.
    db = sqlite3.connect(tmp_path / "bot.db")
    db.execute(
        "CREATE TRIGGER refuse_alerts BEFORE INSERT ON alert "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END"
    )
    db.commit()
    answer = await env.send_body(body, work_off=False)
    assert answer.status == 200  # recorded: Slack need not deliver it again
    async with asyncio.timeout(10):  # the worker tries, fails, and puts it back for later
        while db.execute("SELECT attempts, lease_token FROM inbox_delivery").fetchall() != [
            (1, None)
        ]:
            await asyncio.sleep(0.01)
    assert await env.open_alerts() == []

    db.execute("DROP TRIGGER refuse_alerts")
    db.commit()
    db.close()
    env.clock.advance(timedelta(minutes=5))  # past the retry's back-off
    await env.work_off()
    await env.settle()
    [alert] = await env.open_alerts()
    assert alert.system == "support-drafter"
    assert len(env.standin.posts(ALERTS)) == 1


async def test_slack_gets_its_answer_before_the_claim_is_posted(env: SlackEnv) -> None:
    env.standin.api_gate = asyncio.Event()  # the Web API hangs until opened
    answer = await env.send_event(load_fixture("datadog_triggered.json"))
    assert answer.status == 200
    assert len(await env.open_alerts()) == 1  # recorded before the 200, stored after
    assert env.standin.posts() == []  # the claim waits for the (slow) Web API
    env.standin.api_gate.set()
    await env.settle()
    assert len(env.standin.posts(ALERTS)) == 1


def human(text: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "user": "U0BOB0002",
        "text": text,
        "ts": ts,
        "channel": ALERTS,
        "channel_type": "channel",
        "event_ts": ts,
        **extra,
    }


async def test_what_is_not_an_alert_is_left_alone(env: SlackEnv) -> None:
    not_alerts = [
        human("anyone up for lunch?", "1800000601.000001"),  # a person, no system named
        human("billing-router looks slow", "1800000602.000001", thread_ts="1800000101.000100"),
        {  # the bot's own claim
            **human("billing-router: claimed for Alice", "1800000603.000001"),
            "user": BOT_USER,
            "bot_id": BOT_ID,
        },
        {**human("billing-router 5xx", "1800000604.000001"), "channel": "C0RANDOM9"},
        {
            **human("<@U0BOB0002> has joined the channel", "1800000605.000001"),
            "subtype": "channel_join",
        },
        {  # an integration editing its post without resolving anything
            **load_fixture("pagerduty_resolved_edit.json"),
            "message": load_fixture("pagerduty_triggered.json"),
        },
        {**human("", "1800000606.000001"), "subtype": "bot_message", "bot_id": "B0EMPTY01"},
    ]
    for event in not_alerts:
        assert (await env.send_event(event)).status == 200
    await env.settle()
    assert await env.open_alerts() == []
    assert env.standin.posts() == []


async def test_a_person_naming_a_system_raises_an_alert(env: SlackEnv) -> None:
    await env.send_event(human("routing model is sending every ticket to Tier 3", "1800000700.1"))
    await env.settle()
    [alert] = await env.open_alerts()
    assert alert.system == "billing-router"
    [claim] = env.standin.posts(ALERTS)
    assert "<@U0ALICE01>" in claim.args["text"]


async def test_an_integration_post_no_system_matches_is_an_unowned_alert(env: SlackEnv) -> None:
    post = load_fixture("alertmanager_firing.json")
    post["attachments"][0]["title"] = "[FIRING:1] NodeDiskFull (db-3 critical)"
    post["attachments"][0]["text"] = "Disk almost full on db-3."
    await env.send_event(post)
    quiet = {**post, "channel": "C0QUIET02", "ts": "1800000111.000100"}
    await env.send_event(quiet)
    await env.settle()

    alerts = await env.open_alerts()
    assert [(a.channel, a.system, a.holder) for a in alerts] == [
        (ALERTS, None, "dana"),  # the channel's fallback owner holds it
        ("C0QUIET02", None, None),
    ]
    fallback = env.standin.posts(ALERTS)[0]
    assert "<@U0DANA004>" in fallback.args["text"]
    nobody = env.standin.posts("C0QUIET02")[0]
    assert "Nobody owns this alert" in blocks_text(nobody.args)
