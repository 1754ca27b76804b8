"""Issue 11 item 9: a claim posted twice after a crash. A worker killed after Slack accepted
a claim but before recording it left the claim unposted in the store; once the posting lease
lapsed the tick posted it again. Claims now carry their alert's identity as Slack message
metadata, and a worker taking a lapsed lease over adopts the tagged message it finds."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from tests.adapters.slack_standin import SlackEnv, load_fixture, slack_env


async def _crash_before_recording(env: SlackEnv, tmp_path: Path, alert_id: int) -> None:
    """What a worker killed between chat.postMessage and set_claim leaves: the claim
    unrecorded under a posting lease that then lapses."""
    with sqlite3.connect(tmp_path / "bot.db") as db:
        db.execute(
            "UPDATE claim SET message_id = NULL, channel = NULL, thread = NULL,"
            " posted_at = NULL, lease_until = NULL WHERE alert_id = ?",
            (alert_id,),
        )
    async with env.runtime.store.transaction() as tx:
        assert await tx.alerts.take_claim_post(
            alert_id=alert_id, now=env.clock.now(), lease=timedelta(seconds=30)
        )
    env.clock.advance(timedelta(seconds=31))


async def test_the_tick_adopts_a_claim_posted_before_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack_env(tmp_path, monkeypatch) as env:
        await env.send_event(load_fixture("alertmanager_firing.json"))
        await env.settle()
        [alert] = await env.open_alerts()
        assert alert.claim is not None
        [posted] = env.standin.posts()
        assert posted.args["metadata"] == {
            "event_type": "accountability_claim",
            "event_payload": {"alert_id": alert.id, "opened_at": alert.opened_at.isoformat()},
        }

        await _crash_before_recording(env, tmp_path, alert.id)
        assert (await env.alert(alert.id)).claim is None
        await env.tick()

        assert len(env.standin.posts()) == 1  # adopted, not posted again
        assert env.standin.calls_to("conversations.replies")
        adopted = (await env.alert(alert.id)).claim
        assert adopted is not None and adopted.id == alert.claim.id
        assert adopted.thread == alert.claim.thread


async def test_a_tagged_claim_of_another_alert_is_not_adopted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with slack_env(tmp_path, monkeypatch) as env:
        await env.send_event(load_fixture("alertmanager_firing.json"))
        await env.settle()
        [alert] = await env.open_alerts()
        assert alert.claim is not None
        message = env.standin.message(alert.claim.channel, alert.claim.id)
        message["metadata"]["event_payload"]["alert_id"] = alert.id + 1  # someone else's

        await _crash_before_recording(env, tmp_path, alert.id)
        await env.tick()

        assert len(env.standin.posts()) == 2  # nothing of its own found: posted again
        reposted = (await env.alert(alert.id)).claim
        assert reposted is not None and reposted.id != alert.claim.id
