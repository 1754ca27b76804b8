"""Scorecard and review inputs read back from a history the real service wrote, on SQLite and
PostgreSQL; digests and decisions stored once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from adapters.fake import ManualClock, deliver
from bot import cards
from bot.domain import MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked, CommandGiven
from bot.registry import Registry
from bot.review import contract_of, review
from bot.scorecard import SystemInfo, scorecards
from bot.service import AccountabilityService
from store.database import SqlStore
from store.governance import GovernanceRepository
from store.reviews import SqlReviews

ALICE, BOB, CAROL = (UserRef("slack", u) for u in ("U0ALICE01", "U0BOB0002", "U0CAROL03"))
N = 0


@asynccontextmanager
async def governance(store: SqlStore) -> AsyncIterator[GovernanceRepository]:
    sessions = async_sessionmaker(store.engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        yield GovernanceRepository(session)


async def fire(service: AccountabilityService, text: str, channel: str = "C0ALERTS1") -> int:
    global N
    N += 1
    taken = await deliver(
        service,
        AlertSeen(
            platform="slack",
            channel=channel,
            text=text,
            event_id=f"Ev{N}",
            message=MessageRef("slack", channel, f"1700000000.{N:06d}"),
        ),
    )
    assert taken.alert is not None
    return taken.alert.id


def press(
    user: UserRef, action: str, alert_id: int, target: UserRef | None = None
) -> ButtonClicked:
    return ButtonClicked(user=user, action=action, value=str(alert_id), target=target)


def infos(registry: Registry) -> list[SystemInfo]:
    return [
        SystemInfo(
            id=s.id,
            name=s.name,
            steward=s.steward,
            channels=frozenset(f"{c.platform}:{c.id}" for c in s.channels),
        )
        for s in registry.systems.values()
    ]


async def test_scorecard_from_a_recorded_week(
    service: AccountabilityService, store: SqlStore, clock: ManualClock, registry: Registry
) -> None:
    start = clock.now()
    # 1: acknowledged by the operator at once, resolved, then fires again 2 h later (rework)
    first = await fire(service, "[FIRING:1] billing-router p99 latency 2.3s")
    clock.advance(timedelta(minutes=2))
    await service.click(press(ALICE, cards.ACK, first))
    # 2: nobody answers; the maintainer step goes out; then the maintainer acknowledges
    second = await fire(service, "billing-router error budget burning")
    clock.advance(timedelta(minutes=11))
    await service.tick()
    await service.click(press(BOB, cards.ACK, second))
    clock.advance(timedelta(minutes=1))
    await service.click(press(ALICE, cards.RESOLVE, first))
    # 3: support-drafter, handed off by its operator
    third = await fire(service, "support-drafter drafting assistant timeouts")
    await service.click(press(BOB, cards.HAND_OFF, third, target=ALICE))
    # 4: unowned in the channel both systems watch (the fallback holds it)
    await fire(service, "disk almost full on db-7")
    clock.advance(timedelta(hours=2))
    again = await fire(service, "[FIRING:1] billing-router p99 latency 2.3s")
    assert again != first
    # a stop requested and confirmed 3 minutes later (its action fails: nothing listens)
    await service.command(
        CommandGiven(user=CAROL, command="stop", args="billing-router bad scores", channel="C0")
    )
    async with governance(store) as gov:
        record = await gov.scorecard_record(since=start, until=clock.now() + timedelta(hours=1))
    (stop,) = record.stops
    clock.advance(timedelta(minutes=3))
    await service.click(ButtonClicked(user=CAROL, action=cards.STOP_CONFIRM, value=str(stop.id)))
    now = clock.now() + timedelta(hours=1)

    async with governance(store) as gov:
        record = await gov.scorecard_record(since=now - timedelta(days=14), until=now)
    by_id = {a.id: a for a in record.alerts}
    assert by_id[first].first_holder == "alice" and by_id[first].acknowledged_by == "alice"
    assert by_id[second].first_step_at is not None and by_id[second].steps_sent == 1
    assert by_id[third].hand_offs == 1
    assert [a.first_holder for a in record.alerts if a.system is None] == ["dana"]

    billing, drafter = scorecards(systems=infos(registry), record=record, now=now)
    n = billing.current
    assert (n.taken, n.resolved, n.still_open) == (3, 1, 2)
    assert n.operator_first == 1 and n.escalated == 1 and n.unowned == 1
    assert n.exceptions == 2 and n.exception_rate == 2 / 4
    assert n.rework == 1
    assert n.ack_p50 == timedelta(minutes=2) and n.ack_p90 == timedelta(minutes=11)
    assert n.stop_requests == 1 and n.stop_confirm_p50 == timedelta(minutes=3)
    assert [s.state for s in billing.stops] == ["failed"]
    assert drafter.current.handed_off == 1 and drafter.current.exceptions == 2

    async with governance(store) as gov:
        narrowed = await gov.scorecard_record(
            since=now - timedelta(days=14), until=now, systems=["support-drafter"]
        )
    assert {a.system for a in narrowed.alerts} == {"support-drafter", None}
    assert narrowed.stops == []


async def test_a_digest_is_recorded_once_and_decided_once(
    store: SqlStore, clock: ManualClock
) -> None:
    at = clock.now()
    async with governance(store) as gov:
        digest = await gov.add_digest(
            system="billing-router", period="2026-W45", steward="carol", at=at
        )
        assert digest is not None
        again = await gov.add_digest(
            system="billing-router", period="2026-W45", steward="carol", at=at
        )
        assert again is None
    async with governance(store) as gov:
        assert [
            d.system for _, d in await gov.undecided_digests(sent_before=at + timedelta(1))
        ] == ["billing-router"]
        decided = await gov.decide(
            system="billing-router", decision="stabilize", by="carol", at=at + timedelta(hours=3)
        )
        assert decided is not None and decided.decision == "stabilize"
        assert await gov.decide(system="billing-router", decision="stop", by="carol", at=at) is None
        assert await gov.decide(system="support-drafter", decision="stop", by="x", at=at) is None
    async with governance(store) as gov:
        record = await gov.scorecard_record(since=at - timedelta(days=1), until=at + timedelta(1))
        assert await gov.undecided_digests(sent_before=at + timedelta(days=3)) == []
    (d,) = record.digests
    assert (d.decision, d.decided_by, d.decided_at) == (
        "stabilize",
        "carol",
        at + timedelta(hours=3),
    )


async def test_undecided_digests_escalate_once(store: SqlStore, clock: ManualClock) -> None:
    at = clock.now()
    async with governance(store) as gov:
        digest = await gov.add_digest(system="s", period="p", steward="carol", at=at)
        assert digest is not None
    async with governance(store) as gov:
        ((found, _),) = await gov.undecided_digests(sent_before=at + timedelta(hours=48))
        assert found == digest
        assert await gov.mark_digest_escalated(digest_id=digest, to="dana", at=at)
        assert not await gov.mark_digest_escalated(digest_id=digest, to="dana", at=at)
        assert await gov.undecided_digests(sent_before=at + timedelta(hours=48)) == []


@asynccontextmanager
async def reviews(store: SqlStore) -> AsyncIterator[SqlReviews]:
    sessions = async_sessionmaker(store.engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        yield SqlReviews(session)


async def test_review_record_gathers_one_alerts_story(
    service: AccountabilityService, store: SqlStore, clock: ManualClock, registry: Registry
) -> None:
    other = await fire(service, "support-drafter drafting assistant timeouts")
    alert_id = await fire(service, "[FIRING:1] billing-router p99 latency 2.3s")
    async with reviews(store) as rv:
        assert await rv.remember_registry(
            version=registry.version,
            text=registry.source_text,
            source="ownership.yaml",
            at=clock.now(),
        )
        assert not await rv.remember_registry(
            version=registry.version, text="x", source="ownership.yaml", at=clock.now()
        )
        await rv.set_alert_versions(alert_ids=[alert_id, other], version=registry.version)
        await rv.set_alert_versions(alert_ids=[alert_id], version="b" * 64)  # first one wins
    clock.advance(timedelta(minutes=11))
    await service.tick()
    await service.click(press(BOB, cards.ACK, alert_id))
    await service.click(press(BOB, cards.HAND_OFF, alert_id, target=ALICE))
    await service.command(
        CommandGiven(user=CAROL, command="stop", args="billing-router bad scores", channel="C0")
    )
    clock.advance(timedelta(minutes=1))
    await service.click(press(ALICE, cards.RESOLVE, alert_id))
    clock.advance(timedelta(minutes=1))
    await service.command(CommandGiven(user=CAROL, command="stop", args="billing-router later"))
    at = clock.now()
    async with reviews(store) as rv:
        assert await rv.record_form(
            alert_id=alert_id, by="alice", at=at, skipped=False,
            failure_class="bad_source", why_passed="stale upstream prices",
        )  # fmt: skip
        assert not await rv.record_form(alert_id=alert_id, by="alice", at=at, skipped=True)
        follow = await rv.add_follow_up(
            action="pin the feed", owner="bob", due_at=at + timedelta(days=7),
            created_by="alice", at=at, alert_id=alert_id, system="billing-router",
        )  # fmt: skip
        assert await rv.registry_text(version=registry.version) == registry.source_text
        assert await rv.latest_resolved(system="billing-router") == alert_id
        assert await rv.latest_resolved(system="support-drafter") is None
    async with reviews(store) as rv:
        record = await rv.review_record(alert_id=alert_id, now=clock.now())
        assert await rv.review_record(alert_id=999_999, now=clock.now()) is None
    assert record is not None
    assert [e.action for e in record.timeline] == [
        "alert.claimed",
        "alert.escalated",
        "alert.acknowledged",
        "alert.handed_off",
        "stop.requested",  # the system's stop while the alert was open; the later one is not
        "alert.resolved",
    ]
    assert record.timeline[3].detail == {"from": "bob", "to": "alice"}
    assert record.form is not None and record.form.failure_class == "bad_source"
    assert record.follow_ups == (follow,)
    assert record.version == registry.version

    then = contract_of(registry, "billing-router")
    r = review(record=record, then=then, now=then)
    assert r.missing == ()  # the example declares the whole contract
    assert "Router dashboard: https://grafana.example.com/d/router?var-alert=" in r.answers[3].text
    assert "handed off to Alice Ng" in r.answers[0].text
    assert "stop requested by Carol Diaz" in r.answers[0].text

    async with reviews(store) as rv:
        remind, escalate = await rv.follow_ups_to_chase(now=at + timedelta(days=8))
        assert [f.id for f in remind] == [follow.id] and escalate == []
        assert await rv.mark_follow_up(follow_up_id=follow.id, at=at, step="reminded")
        assert not await rv.mark_follow_up(follow_up_id=follow.id, at=at, step="reminded")
        remind, escalate = await rv.follow_ups_to_chase(now=at + timedelta(days=9))
        assert remind == [] and [f.id for f in escalate] == [follow.id]
        assert [f.id for f in await rv.open_follow_ups(system="billing-router")] == [follow.id]
        assert await rv.finish_follow_up(follow_up_id=follow.id, by="bob", at=at)
        assert not await rv.finish_follow_up(follow_up_id=follow.id, by="bob", at=at)
        assert await rv.open_follow_ups() == []
