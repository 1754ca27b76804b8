"""A batch of alerts (what the inbox worker hands the core) is taken in one transaction with
the outcomes taking them one by one in order would give: duplicates, repeats within the batch
and of alerts opened before it, a resolution between two firings, non-alerts; then published
with claims within the channel's pace and the rest on one storm board."""

from __future__ import annotations

from adapters.fake import InMemoryPlatform
from bot.domain import AlertState, MessageRef, UserRef
from bot.events import AlertSeen
from bot.service import AccountabilityService
from store.database import SqlStore

FIRING = "[FIRING:1] billing-router p99 latency 2.3s"


def seen(text: str, event: str, *, author: UserRef | None = None) -> AlertSeen:
    """A Slack message in the example's watched channel."""
    return AlertSeen(
        platform="slack",
        channel="C0ALERTS1",
        text=text,
        event_id=event,
        message=MessageRef("slack", "C0ALERTS1", f"1700000000.{event[-4:]}"),
        author=author,
        integration=None if author else "slack:B0MONITOR",  # an integration's post
    )


async def test_batch_outcomes_match_taking_one_by_one(
    service: AccountabilityService, store: SqlStore
) -> None:
    before = await service.take_alert(seen("[FIRING:1] support-drafter errors", "Ev0000"))
    assert before.outcome == "claimed"
    batch = [
        seen(FIRING, "Ev0001"),
        seen(FIRING, "Ev0001"),  # the same delivery twice
        seen(FIRING, "Ev0002"),  # a repeat of the alert the batch just opened
        seen("[FIRING:1] support-drafter errors", "Ev0003"),  # a repeat of an older alert
        seen("[RESOLVED] billing-router p99 latency 2.3s", "Ev0004"),
        seen(FIRING, "Ev0005"),  # fires again after the resolution: a new alert
        seen("lunch anyone?", "Ev0006", author=UserRef("slack", "U0BOB0002")),
        seen("something odd, no system named", "Ev0007"),  # an integration: unowned
    ]
    taken = await service.take_alerts(batch)
    assert [t.outcome for t in taken] == [
        "claimed",
        "duplicate",
        "repeat",
        "repeat",
        "resolved",
        "claimed",
        "not_an_alert",
        "unowned",
    ]
    first, _, _, older, resolved, again, _, unowned = taken
    assert first.alert is not None and again.alert is not None and older.alert is not None
    assert first.alert.id != again.alert.id
    assert older.alert.id == before.alert.id if before.alert else False
    assert older.alert.repeats == 1
    assert resolved.alert is not None and resolved.alert.state == AlertState.RESOLVED
    assert unowned.alert is not None and unowned.alert.system is None
    async with store.transaction() as tx:
        open_alerts = await tx.alerts.unresolved()
        actions = [e.action for e in await tx.evidence.entries()]
        steps = await tx.steps.of_alert(alert_id=again.alert.id)
    assert sorted(a.id for a in open_alerts) == sorted(
        [before.alert.id, again.alert.id, unowned.alert.id]
    )
    assert actions == [
        "alert.claimed",
        "alert.claimed",
        "alert.resolved",
        "alert.claimed",
        "alert.unowned",
    ]
    assert steps  # the escalation map was copied onto the new alert


async def test_a_batch_is_published_within_the_pace_then_on_one_board(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    batch = [seen(f"[FIRING:1] billing-router issue {chr(97 + i)}", f"Ev{i:04d}") for i in range(9)]
    taken = await service.take_alerts(batch)
    assert {t.outcome for t in taken} == {"claimed"}
    await service.publish_many(taken)
    posts = slack.posts("post")
    assert len(posts) == 6  # five claims of their own (the channel's burst), one board
    async with store.transaction() as tx:
        alerts = await tx.alerts.unresolved()
    assert all(a.claim is not None for a in alerts)
    assert sum(1 for a in alerts if a.claim_combined) == 4
