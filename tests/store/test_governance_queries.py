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
from bot.scorecard import SystemInfo, scorecards
from bot.service import AccountabilityService
from store.database import SqlStore
from store.governance import GovernanceRepository

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
