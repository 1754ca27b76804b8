"""Several replicas on one database: escalation steps are sent once when three replicas tick
at the same moment, a replica that dies holding a step leaves it to another after the lease,
a direct message sent before a crash is not sent again, the stale scan runs once per period,
and on SQLite a second serving process is refused."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from adapters.actions import ActionRunner
from adapters.fake import InMemoryPlatform, ManualClock
from bot.cards import Card
from bot.domain import MessageRef, PlannedStep
from bot.evidence import verify_chain
from bot.registry import Registry
from bot.service import AccountabilityService
from store.database import SqlStore, make_engine
from store.lock import DatabaseInUse, lock_database, sqlite_file
from tests.conftest import PEOPLE, PG_URL, drop_schema, postgres_store, require_postgres

LEASE = timedelta(seconds=30)


def platform() -> InMemoryPlatform:
    p = InMemoryPlatform(name="slack")
    for uid, email in PEOPLE.items():
        p.add_user(uid, email)
    return p


def replica(
    registry: Registry, store: SqlStore, clock: ManualClock, name: str, tmp_path: Path
) -> tuple[AccountabilityService, InMemoryPlatform]:
    chat = platform()
    service = AccountabilityService(
        registry=registry,
        store=store,
        platforms={"slack": chat},
        clock=clock,
        stop_runner=ActionRunner(workdir=tmp_path, environ={}),
        worker=name,
        lease=LEASE,
        batch=100,
    )
    return service, chat


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    """A migrated PostgreSQL schema that several engines (replicas) share."""
    require_postgres()
    name = f"r_{uuid.uuid4().hex[:12]}"
    first = await postgres_store(name)
    await first.close()
    try:
        yield name
    finally:
        await drop_schema(name)


def engine_on(schema: str) -> SqlStore:
    """One replica's own engine and connection pool on the shared schema."""
    return SqlStore(
        make_engine(PG_URL, connect_args={"options": f"-c search_path={schema}"}, pool_size=10)
    )


async def due_alerts(store: SqlStore, clock: ManualClock, *, alerts: int, steps_each: int) -> None:
    """Open `alerts` billing-router alerts whose first `steps_each` steps are due now."""
    opened = clock.now() - timedelta(hours=1)
    async with store.transaction() as tx:
        for i in range(alerts):
            alert = await tx.alerts.add(
                platform="slack",
                channel="C0ALERTS1",
                system="billing-router",
                fingerprint=f"fp{i}",
                open_key=f"billing-router|fp{i}",
                title=f"load alert {i}",
                text=f"billing-router load alert {i}",
                holder="alice",
                opened_at=opened,
                link=None,
                source=MessageRef("slack", "C0ALERTS1", f"1700000000.{i:06d}"),
            )
            assert alert is not None
            await tx.steps.add(
                alert_id=alert.id,
                steps=[
                    PlannedStep(p, person, label, opened + timedelta(minutes=p))
                    for p, (person, label) in enumerate(
                        [("bob", "maintainer"), ("carol", "steward")][:steps_each], start=1
                    )
                ],
            )


def alerts_in(card: Card) -> list[str]:
    """The alert ids an escalation message covers: one, or a digest's list."""
    listed = dict(card.fields).get("Alerts")
    if listed is not None:
        return [part.strip().lstrip("#") for part in listed.split(",")]
    return [card.buttons[0].value]


async def drain(service: AccountabilityService) -> list[int]:
    """Tick until this replica finds nothing left to take."""
    sent: list[int] = []
    while True:
        report = await service.tick()
        sent += report.sent
        if not report.sent and not report.lost_lease:
            return sent


@pytest.mark.postgres
async def test_three_replicas_ticking_together_send_each_of_2000_steps_once(
    schema: str, registry: Registry, clock: ManualClock, tmp_path: Path
) -> None:
    stores = [engine_on(schema) for _ in range(3)]
    try:
        await due_alerts(stores[0], clock, alerts=1000, steps_each=2)
        replicas = [
            replica(registry, s, clock, f"replica-{n}", tmp_path) for n, s in enumerate(stores)
        ]
        started = time.perf_counter()
        results = await asyncio.gather(*(drain(service) for service, _ in replicas))
        elapsed = time.perf_counter() - started

        # Steps falling due together for one person are combined into one direct message.
        directs = [
            (alert_id, s.user.id if s.user else None)
            for _, chat in replicas
            for s in chat.posts("direct")
            for alert_id in alerts_in(s.card)
        ]
        assert len(directs) == 2000
        assert set(Counter(directs).values()) == {1}  # every (alert, person) exactly once
        step_ids = [step for shares in results for step in shares]
        assert len(step_ids) == len(set(step_ids)) == 2000
        assert all(results), "every replica took a share"
        thread_posts = sum(len(chat.posts("post")) for _, chat in replicas)
        assert thread_posts == 2000
        async with stores[0].transaction() as tx:
            rows = (
                await tx.session.execute(  # type: ignore[attr-defined]
                    text(
                        "SELECT state, count(*), count(message_id) FROM escalation_step "
                        "GROUP BY state"
                    )
                )
            ).all()
            entries = await tx.evidence.entries()
        assert [tuple(r) for r in rows] == [("sent", 2000, 2000)]
        assert sum(e.action == "alert.escalated" for e in entries) == 2000
        assert verify_chain(entries) is None
        print(f"\n3 replicas sent 2000 steps in {elapsed:.1f}s; shares {[len(r) for r in results]}")
    finally:
        for s in stores:
            await s.close()


@pytest.mark.postgres
async def test_a_replica_killed_holding_a_step_leaves_it_to_another_after_the_lease(
    schema: str, registry: Registry, clock: ManualClock, tmp_path: Path
) -> None:
    killed_store, live_store = engine_on(schema), engine_on(schema)
    try:
        await due_alerts(live_store, clock, alerts=1, steps_each=1)
        async with killed_store.transaction() as tx:  # takes the lease, then "dies"
            (taken,) = await tx.steps.take_due(
                now=clock.now(), lease=LEASE, worker="killed", limit=10
            )
        live, chat = replica(registry, live_store, clock, "live", tmp_path)

        assert (await live.tick()).sent == []  # the lease still holds
        clock.advance(LEASE + timedelta(seconds=1))
        assert (await live.tick()).sent == [taken.id]
        assert (await live.tick()).sent == []
        async with killed_store.transaction() as tx:  # the dead worker's late finish loses
            assert await tx.steps.finish(finished=[(taken, None)], at=clock.now()) == set()
        assert len(chat.posts("direct")) == 1
    finally:
        await killed_store.close()
        await live_store.close()


@pytest.mark.postgres
async def test_stale_scan_run_twice_in_one_period_by_two_replicas_sends_one_digest_each(
    schema: str, registry: Registry, clock: ManualClock, tmp_path: Path
) -> None:
    stores = [engine_on(schema), engine_on(schema)]
    try:
        replicas = [replica(registry, s, clock, f"r{n}", tmp_path) for n, s in enumerate(stores)]
        period = "2026-11-02T09:00:00+00:00"
        first = await asyncio.gather(*(s.stale_scan(period=period) for s, _ in replicas))
        again = await asyncio.gather(*(s.stale_scan(period=period) for s, _ in replicas))

        assert sorted(r.ran for r in first) == [False, True]
        assert not any(r.ran for r in again)
        per_person = Counter(
            s.user.id for _, chat in replicas for s in chat.posts("direct") if s.user
        )
        assert per_person == {"U0ALICE01": 1, "U0BOB0002": 1, "U0CAROL03": 1}
    finally:
        for s in stores:
            await s.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_direct_message_sent_before_a_crash_is_not_sent_again(
    backend: str, registry: Registry, clock: ManualClock, tmp_path: Path
) -> None:
    if backend == "sqlite":
        from tests.conftest import sqlite_store

        stores = [await sqlite_store(tmp_path / "bot.db")] * 2
        name = ""
    else:
        require_postgres()
        name = f"r_{uuid.uuid4().hex[:12]}"
        first = await postgres_store(name)
        stores = [first, engine_on(name)]
    try:
        await due_alerts(stores[0], clock, alerts=1, steps_each=1)
        crashing, crashed_chat = replica(registry, stores[0], clock, "crashing", tmp_path)
        # The crashing replica leases the step and sends its direct message, then dies
        # before finishing the step.
        async with stores[0].transaction() as tx:
            (step,) = await tx.steps.take_due(
                now=clock.now(), lease=LEASE, worker="crashing", limit=10
            )
            alerts = await tx.alerts.get_many(alert_ids=[step.alert_id])
        await crashing.escalation._direct("slack", step.person, [(step, alerts[step.alert_id])])
        (dm,) = crashed_chat.posts("direct")
        clock.advance(LEASE + timedelta(seconds=1))
        other, other_chat = replica(registry, stores[1], clock, "other", tmp_path)
        (step_id,) = (await other.tick()).sent
        assert other_chat.posts("direct") == []  # recognised: not sent twice
        (notice,) = other_chat.posts("post")
        assert notice.card.title.startswith("Escalation: billing-router")
        async with stores[1].engine.connect() as conn:
            recorded = await conn.scalar(
                text("SELECT message_id FROM escalation_step WHERE id = :id"), {"id": step_id}
            )
        assert recorded == dm.message.id
    finally:
        for s in {id(s): s for s in stores}.values():
            await s.close()
        if name:
            await drop_schema(name)


def test_a_second_process_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    held = lock_database(url)
    assert held is not None
    with pytest.raises(DatabaseInUse) as refused:
        lock_database(url)
    message = str(refused.value)
    assert f"{tmp_path / 'bot.db'} is already served by another process (pid " in message
    assert "use PostgreSQL" in message
    held.release()
    again = lock_database(url)  # released: the next process may serve
    assert again is not None
    again.release()


def test_only_sqlite_files_take_the_process_lock() -> None:
    assert sqlite_file("postgres://u:p@db.example/bot") is None
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert lock_database("postgresql://u@db.example/bot") is None
    assert sqlite_file("sqlite:///rel/bot.db") == Path("rel/bot.db").absolute()
