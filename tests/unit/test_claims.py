"""Scenario tests of the core through the in-memory platform and a real store: claim,
repeats, duplicates, unowned alerts, escalation, acknowledge / resolve / hand off."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from adapters.fake import InMemoryPlatform, ManualClock, deliver
from bot import cards
from bot.cards import Mention
from bot.domain import AlertState, MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked
from bot.ports import PlatformError
from bot.registry import parse_registry
from bot.service import AccountabilityService
from store.database import SqlStore
from tests.conftest import EXAMPLE

ALICE, BOB, CAROL, DANA, MALLORY = (
    UserRef("slack", u) for u in ("U0ALICE01", "U0BOB0002", "U0CAROL03", "U0DANA004", "U0MALLORY")
)


def alert(
    text: str, *, event: str = "Ev1", ts: str = "1700000000.000100", channel: str = "C0ALERTS1"
) -> AlertSeen:
    return AlertSeen(
        platform="slack",
        channel=channel,
        text=text,
        event_id=event,
        message=MessageRef("slack", channel, ts),
        integration="slack:B0MONITOR",  # posted by a monitoring integration
    )


def click(
    user: UserRef, action: str, alert_id: int, target: UserRef | None = None
) -> ButtonClicked:
    return ButtonClicked(user=user, action=action, value=str(alert_id), target=target)


async def audit_actions(store: SqlStore) -> list[str]:
    async with store.transaction() as tx:
        return [e.action for e in await tx.evidence.entries()]


async def test_alert_is_claimed_for_the_operator_in_its_thread(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    taken = await deliver(service, alert("[FIRING:1] billing-router p99 latency 2.3s"))

    assert (taken.outcome, taken.system, taken.holder) == ("claimed", "billing-router", "alice")
    (claim,) = slack.posts("post")
    assert claim.channel == "C0ALERTS1"
    assert claim.thread == "1700000000.000100"  # a reply in the alert's own thread
    assert claim.card.mentioned()[0] == ALICE
    assert claim.card.action_ids() == (cards.ACK, cards.RESOLVE, cards.HAND_OFF)
    text = claim.card.plain_text()
    assert "Claimed for Alice Ng (operator)" in text
    assert "escalates to Bob Ruiz (maintainer) at 2026-11-02 09:10 UTC (in 10m)" in text
    assert "Carol Diaz (steward) at 2026-11-02 09:30 UTC" in text

    async with store.transaction() as tx:
        stored = await tx.alerts.get(alert_id=taken.alert.id)  # type: ignore[union-attr]
        steps = await tx.steps.of_alert(alert_id=stored.id)  # type: ignore[union-attr]
    assert stored is not None and stored.state == AlertState.OPEN and stored.holder == "alice"
    assert stored.claim is not None and stored.claim.id == claim.message.id
    assert [(s.person, s.label) for s in steps] == [
        ("bob", "maintainer"),
        ("carol", "steward"),
        ("dana", "step 3"),
    ]
    assert await audit_actions(store) == ["alert.claimed"]


async def test_the_same_delivery_twice_is_taken_once(
    service: AccountabilityService, slack: InMemoryPlatform
) -> None:
    first = await deliver(service, alert("billing-router error rate high", event="Ev9"))
    again = await deliver(service, alert("billing-router error rate high", event="Ev9"))
    assert (first.outcome, again.outcome) == ("claimed", "duplicate")
    assert len(slack.posts("post")) == 1


async def test_repeats_of_an_open_alert_are_counted_on_its_claim(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    first = await deliver(service, alert("[FIRING:1] billing-router p99 latency 2.3s"))
    second = await deliver(
        service,
        alert("[FIRING:1] billing-router p99 latency 4.1s", event="Ev2", ts="1700000060.000200"),
    )
    third = await deliver(
        service,
        alert("[FIRING:1] billing-router p99 latency 3.0s", event="Ev3", ts="1700000120.000300"),
    )
    assert [t.outcome for t in (first, second, third)] == ["claimed", "repeat", "repeat"]
    assert third.alert is not None and third.alert.id == first.alert.id  # type: ignore[union-attr]
    assert len(slack.posts("post")) == 1
    assert slack.posts("update") == []  # repeats are redrawn together by the next tick
    assert (await service.tick()).redrawn == 1
    (update,) = slack.posts("update")
    assert update.message == slack.posts("post")[0].message
    assert ("Repeats", "2") in update.card.fields
    async with store.transaction() as tx:
        assert len(await tx.alerts.unresolved()) == 1


async def test_unowned_alert_goes_to_the_channel_fallback(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    taken = await deliver(service, alert("disk full on build-agent-7"))
    assert (taken.outcome, taken.system, taken.holder) == ("unowned", None, "dana")
    (claim,) = slack.posts("post")
    assert claim.card.mentioned() == (DANA,)
    assert "fallback owner" in claim.card.plain_text()
    assert await audit_actions(store) == ["alert.unowned"]


async def test_unowned_alert_without_fallback_says_nobody_owns_it(
    make_service: Callable[..., AccountabilityService], slack: InMemoryPlatform
) -> None:
    # A watched channel with no fallback owner (an unwatched channel's posts are no alerts).
    text = EXAMPLE.read_text().replace("channels:\n", "channels:\n  - slack: C0ELSEWHERE\n", 1)
    service = make_service(registry=parse_registry(text, source="elsewhere.yaml"))
    taken = await deliver(service, alert("disk full on build-agent-7", channel="C0ELSEWHERE"))
    assert (taken.outcome, taken.holder) == ("unowned", None)
    (claim,) = slack.posts("post")
    assert "Nobody owns this alert" in claim.card.plain_text()
    assert claim.card.mentioned() == ()


async def test_escalation_fires_each_step_once_until_acknowledged(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock, store: SqlStore
) -> None:
    taken = await deliver(service, alert("billing-router error budget burn"))
    assert taken.alert is not None
    claim = slack.posts("post")[0]

    clock.advance(timedelta(minutes=9, seconds=59))
    assert (await service.tick()).sent == []

    clock.advance(timedelta(seconds=1))
    assert len((await service.tick()).sent) == 1
    assert len((await service.tick()).sent) == 0  # never twice
    (dm,) = slack.directs_to("U0BOB0002")
    assert "escalates to you (maintainer)" in dm.card.plain_text()
    assert dm.card.action_ids() == (cards.ACK, cards.RESOLVE, cards.HAND_OFF)
    thread = [s for s in slack.posts("post") if s.thread == claim.thread and s is not claim]
    assert thread[-1].card.mentioned() == (BOB,)

    clock.advance(timedelta(minutes=20))
    assert len((await service.tick()).sent) == 1
    assert len(slack.directs_to("U0CAROL03")) == 1

    assert await service.click(click(BOB, cards.ACK, taken.alert.id)) is None
    update = slack.posts("update")[-1]
    assert update.message == claim.message
    assert "Acknowledged: held by Bob Ruiz since 2026-11-02 09:30 UTC" in update.card.plain_text()
    assert update.card.action_ids() == (cards.RESOLVE, cards.HAND_OFF)

    clock.advance(timedelta(days=3))
    assert (await service.tick()).sent == []
    assert slack.directs_to("U0DANA004") == []
    assert await audit_actions(store) == [
        "alert.claimed",
        "alert.escalated",
        "alert.escalated",
        "alert.acknowledged",
    ]


async def test_escalation_to_an_unreachable_person_says_so_in_the_thread(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock, store: SqlStore
) -> None:
    slack.users["U0BOB0002"].reachable = False
    await deliver(service, alert("billing-router down"))
    clock.advance(timedelta(minutes=10))
    assert len((await service.tick()).sent) == 1
    texts = [s.card.plain_text() for s in slack.posts("post")]
    assert any("Bob Ruiz (maintainer) could not be sent a direct message" in t for t in texts)
    async with store.transaction() as tx:
        last = (await tx.evidence.entries())[-1]
    assert last.action == "alert.escalated" and last.detail["direct_message"] is False


async def test_someone_not_named_on_the_system_cannot_acknowledge(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    taken = await deliver(service, alert("billing-router down"))
    assert taken.alert is not None
    reply = await service.click(click(MALLORY, cards.ACK, taken.alert.id))
    assert reply is not None and not reply.public
    assert "Alice Ng holds this alert" in reply.card.plain_text()
    assert slack.posts("update") == []
    async with store.transaction() as tx:
        stored = await tx.alerts.get(alert_id=taken.alert.id)
    assert stored is not None and stored.state == AlertState.OPEN
    assert (await audit_actions(store))[-1] == "alert.click_refused"


async def test_ack_by_anyone_lets_a_stranger_acknowledge(
    make_service: Callable[..., AccountabilityService], slack: InMemoryPlatform
) -> None:
    text = EXAMPLE.read_text().replace("ack_by: chain", "ack_by: anyone")
    service = make_service(registry=parse_registry(text, source="anyone.yaml"))
    taken = await deliver(service, alert("billing-router down"))
    assert taken.alert is not None
    assert await service.click(click(MALLORY, cards.ACK, taken.alert.id)) is None
    assert "Acknowledged" in slack.posts("update")[-1].card.plain_text()


async def test_two_simultaneous_acknowledgements_record_one(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    taken = await deliver(service, alert("billing-router down"))
    assert taken.alert is not None
    replies = await asyncio.gather(
        service.click(click(ALICE, cards.ACK, taken.alert.id)),
        service.click(click(BOB, cards.ACK, taken.alert.id)),
    )
    assert sorted(r is None for r in replies) == [False, True]
    loser = next(r for r in replies if r is not None)
    assert "already acknowledged" in loser.card.plain_text()
    assert (await audit_actions(store)).count("alert.acknowledged") == 1
    assert len(slack.posts("update")) == 1


async def test_resolve_closes_the_alert_and_a_new_one_can_open(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    taken = await deliver(service, alert("billing-router down"))
    assert taken.alert is not None
    reply = await service.click(click(ALICE, cards.RESOLVE, taken.alert.id))
    assert reply is not None and reply.form is not None  # the resolve form is offered
    update = slack.posts("update")[-1]
    assert "Resolved by alice" in update.card.plain_text()
    assert update.card.action_ids() == (cards.REVIEW,)
    again = await deliver(service, alert("billing-router down", event="Ev2", ts="2.0"))
    assert again.outcome == "claimed" and again.alert is not None
    assert again.alert.id != taken.alert.id


async def test_a_resolved_post_from_the_monitor_resolves_the_open_alert(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock
) -> None:
    taken = await deliver(service, alert("[FIRING:1] billing-router HighLatency"))
    done = await deliver(
        service, alert("[RESOLVED] billing-router HighLatency", event="Ev2", ts="2.0")
    )
    assert done.outcome == "resolved" and done.alert is not None
    assert taken.alert is not None and done.alert.id == taken.alert.id
    assert done.alert.state == AlertState.RESOLVED and done.alert.resolved_by == "monitor"
    assert "Resolved by monitor" in slack.posts("update")[-1].card.plain_text()
    clock.advance(timedelta(hours=1))
    assert (await service.tick()).sent == []  # no escalation for a resolved alert


async def test_hand_off_moves_the_claim_and_tells_the_new_holder(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    taken = await deliver(service, alert("billing-router down"))
    assert taken.alert is not None
    assert await service.click(click(ALICE, cards.HAND_OFF, taken.alert.id, target=DANA)) is None
    async with store.transaction() as tx:
        stored = await tx.alerts.get(alert_id=taken.alert.id)
    assert stored is not None and stored.holder == "dana"
    (dm,) = slack.directs_to("U0DANA004")
    assert dm.card.title.startswith("Handed to you by Alice Ng")
    assert Mention("Dana Wu", DANA) in slack.posts("update")[-1].card.lines[0]
    entries = await audit_actions(store)
    assert entries[-1] == "alert.handed_off"


async def test_hand_off_to_someone_outside_the_registry_is_refused(
    service: AccountabilityService, slack: InMemoryPlatform
) -> None:
    taken = await deliver(service, alert("billing-router down"))
    assert taken.alert is not None
    reply = await service.click(click(ALICE, cards.HAND_OFF, taken.alert.id, target=MALLORY))
    assert reply is not None and "named person" in reply.card.title
    assert slack.posts("update") == []


async def test_clicks_on_unknown_alerts_and_actions_are_answered(
    service: AccountabilityService,
) -> None:
    reply = await service.click(click(ALICE, cards.ACK, 999))
    assert reply is not None and reply.card.title == "Unknown alert"
    reply = await service.click(ButtonClicked(user=ALICE, action=cards.ACK, value="'; drop"))
    assert reply is not None and reply.card.title == "Unknown alert"
    reply = await service.click(ButtonClicked(user=ALICE, action="evil", value="1"))
    assert reply is not None and reply.card.title == "Unknown action"


async def test_a_claim_that_could_not_be_posted_is_posted_by_a_later_tick(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock, store: SqlStore
) -> None:
    slack.fail_posts = 1
    taken = await service.take_alert(alert("billing-router down"))
    with pytest.raises(PlatformError):
        await service.publish(taken)
    assert slack.posts("post") == []
    clock.advance(timedelta(seconds=31))  # the posting lease lapses
    report = await service.tick()
    assert taken.alert is not None and report.claims_posted == [taken.alert.id]
    assert len(slack.posts("post")) == 1
    assert (await service.tick()).claims_posted == []
