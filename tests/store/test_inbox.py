"""The inbox (store/inbox.py) on SQLite and PostgreSQL: group commit, dedup, exactly-once
processing across restarts, batch boundaries, lease take-over, replicas, storage failure and a
real `kill -9`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.clock import SystemClock
from adapters.fake import ManualClock
from store.database import SqlStore, make_engine
from store.inbox import Inbox, Lease, LeaseLost, RecordFailed, delivery_key
from tests.conftest import PG_URL, ROOT

LEASE = timedelta(seconds=30)


@pytest.fixture
async def processed(store: SqlStore) -> AsyncIterator[None]:
    """A table the test processor writes to, once per processing (no unique key, so a
    delivery processed twice shows up twice)."""
    async with store.engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE processed (delivery_id VARCHAR(255) NOT NULL, batch INTEGER)")
        )
    yield


@pytest.fixture
async def inbox(store: SqlStore, clock: ManualClock) -> AsyncIterator[Inbox]:
    """An inbox over the store's database, on the hand-moved clock."""
    box = Inbox(store.engine, clock=clock)
    yield box
    await box.close()


async def record_all(inbox: Inbox, ids: list[str]) -> list[bool]:
    """Record deliveries concurrently, as simultaneous requests would."""
    return list(
        await asyncio.gather(
            *(inbox.record(platform="slack", delivery_id=i, kind="t", payload="{}") for i in ids)
        )
    )


async def process(inbox: Inbox, lease: Lease, *, batch: int = 0, fail: bool = False) -> None:
    """Process a lease: the done mark and the processing's writes in one transaction."""
    async with AsyncSession(inbox.engine) as session, session.begin():
        await inbox.complete(lease, session=session)
        await session.execute(
            text("INSERT INTO processed (delivery_id, batch) VALUES (:d, :b)"),
            [{"d": d.delivery_id, "b": batch} for d in lease.deliveries],
        )
        if fail:
            raise RuntimeError("processor crashed mid-batch")


async def work_off(inbox: Inbox, *, limit: int = 10) -> int:
    """Process every pending delivery; the number processed."""
    done = 0
    while (lease := await inbox.claim(limit=limit, lease=LEASE)) is not None:
        await process(inbox, lease)
        done += len(lease.deliveries)
    return done


async def processed_counts(store: SqlStore) -> Counter[str]:
    """How many times each delivery was processed."""
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT delivery_id FROM processed"))).scalars()
        return Counter(rows)


async def test_record_dedups_within_and_across_groups(inbox: Inbox) -> None:
    ids = [f"Ev{i}" for i in range(30)]
    first = await record_all(inbox, ids * 3)  # every id three times in one burst
    assert sum(first) == 30
    assert [first[i] for i in range(30)] == [True] * 30  # the first of each is the new one
    assert inbox.transactions == 1  # one burst, one group, one commit
    again = await record_all(inbox, ids)
    assert again == [False] * 30
    assert inbox.recorded == 30
    assert await inbox.pending() == 30


async def test_same_id_on_two_platforms_is_two_deliveries(inbox: Inbox) -> None:
    slack = await inbox.record(platform="slack", delivery_id="X1", kind="t", payload="{}")
    teams = await inbox.record(platform="teams", delivery_id="X1", kind="t", payload="{}")
    assert (slack, teams) == (True, True)


async def test_overlong_delivery_ids_still_dedup(inbox: Inbox) -> None:
    long_id = "a" * 300 + "\U0001f600"
    assert delivery_key(long_id) != delivery_key(long_id[:-1])
    assert await record_all(inbox, [long_id, long_id]) == [True, False]
    assert await record_all(inbox, [long_id]) == [False]


async def test_burst_is_grouped_into_few_transactions(inbox: Inbox) -> None:
    results = await record_all(inbox, [f"B{i}" for i in range(2500)])
    assert all(results)
    assert inbox.transactions == 3  # max_batch 1000: 1000 + 1000 + 500


async def test_exactly_once_at_batch_boundaries_and_across_restart(
    store: SqlStore, inbox: Inbox, clock: ManualClock, processed: None
) -> None:
    ids = [f"Ev{i:03d}" for i in range(25)]
    await record_all(inbox, ids)

    first = await inbox.claim(limit=10, lease=LEASE)
    assert first is not None
    assert [d.delivery_id for d in first.deliveries] == ids[:10]  # oldest first
    await process(inbox, first, batch=1)

    second = await inbox.claim(limit=10, lease=LEASE)
    assert second is not None
    with pytest.raises(RuntimeError):  # dies after writing: both writes roll back
        await process(inbox, second, batch=2, fail=True)
    third = await inbox.claim(limit=10, lease=LEASE)  # the process then dies holding this one
    assert third is not None
    assert [d.delivery_id for d in third.deliveries] == ids[20:]
    assert {d.delivery_id for d in second.deliveries} == set(ids[10:20])
    await record_all(inbox, ["Ev-late"])  # arrives between batches
    await inbox.close()

    restarted = Inbox(store.engine, clock=clock)
    if store.engine.dialect.name == "sqlite":
        assert await restarted.recover() == 15  # one process per file: its leases were dead
    else:
        assert await restarted.recover() == 0
        late = await restarted.claim(limit=10, lease=LEASE)  # only Ev-late is free...
        assert late is not None
        assert [d.delivery_id for d in late.deliveries] == ["Ev-late"]  # ...and dies with it
        clock.advance(LEASE + timedelta(seconds=1))  # the dead replica's leases run out
    assert await record_all(restarted, ids[:3]) == [False] * 3  # dedup survives the restart
    await work_off(restarted, limit=10)
    counts = await processed_counts(store)
    assert set(counts) == {*ids, "Ev-late"}
    assert set(counts.values()) == {1}
    assert await restarted.pending() == 0
    await restarted.close()


async def test_expired_lease_is_taken_over_and_the_loser_rolls_back(
    store: SqlStore, inbox: Inbox, clock: ManualClock, processed: None
) -> None:
    await record_all(inbox, ["A", "B", "C"])
    slow = await inbox.claim(limit=10, lease=LEASE)
    assert slow is not None
    assert await inbox.claim(limit=10, lease=LEASE) is None  # leased: nobody else gets it
    clock.advance(LEASE + timedelta(seconds=1))
    fast = await inbox.claim(limit=10, lease=LEASE)
    assert fast is not None
    assert fast.ids == slow.ids
    assert all(d.attempts == 2 for d in fast.deliveries)
    await process(inbox, fast, batch=2)
    with pytest.raises(LeaseLost):
        await process(inbox, slow, batch=1)
    assert await inbox.complete(slow) == 0  # idempotent mode: nothing of it was still held
    counts = await processed_counts(store)
    assert counts == Counter({"A": 1, "B": 1, "C": 1})


async def test_idempotent_completion_and_partial_release(inbox: Inbox, clock: ManualClock) -> None:
    await record_all(inbox, ["A", "B", "C"])
    lease = await inbox.claim(limit=10, lease=LEASE)
    assert lease is not None
    a, b, c = lease.ids
    assert await inbox.complete(lease, ids=[a]) == 1
    assert await inbox.complete(lease, ids=[a]) == 0  # twice is harmless
    assert await inbox.release(lease, ids=[b], delay=timedelta(minutes=1)) == 1
    assert await inbox.complete(lease, ids=[c]) == 1
    assert await inbox.claim(limit=10, lease=LEASE) is None  # B waits out its delay
    clock.advance(timedelta(minutes=1))
    again = await inbox.claim(limit=10, lease=LEASE)
    assert again is not None
    assert [(d.delivery_id, d.attempts) for d in again.deliveries] == [("B", 2)]


async def test_storage_failure_surfaces_to_every_waiter(store: SqlStore, inbox: Inbox) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE inbox_delivery RENAME TO inbox_gone"))
    results = await asyncio.gather(
        *(
            inbox.record(platform="slack", delivery_id=f"F{i}", kind="t", payload="{}")
            for i in range(20)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(r, RecordFailed) for r in results)
    assert inbox.transactions == 0
    async with store.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE inbox_gone RENAME TO inbox_delivery"))
    # The platform delivers again: nothing was half-stored, so every one is new.
    assert await record_all(inbox, [f"F{i}" for i in range(20)]) == [True] * 20


async def test_closed_inbox_refuses(inbox: Inbox) -> None:
    await inbox.close()
    with pytest.raises(RecordFailed):
        await inbox.record(platform="slack", delivery_id="late", kind="t", payload="{}")


async def _schema(store: SqlStore) -> str:
    async with store.engine.connect() as conn:
        return str((await conn.execute(text("SELECT current_schema()"))).scalar_one())


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # replicas need a shared server
async def test_replicas_share_the_inbox_without_double_processing(
    store: SqlStore, processed: None
) -> None:
    schema = await _schema(store)
    clock = ManualClock()
    engines = [
        make_engine(PG_URL, connect_args={"options": f"-c search_path={schema}"}, pool_size=4)
        for _ in range(3)
    ]
    replicas = [Inbox(engine, clock=clock) for engine in engines]
    ids = [f"R{i:04d}" for i in range(600)]
    # Every replica receives every delivery (a platform retrying against a load balancer).
    results = await asyncio.gather(*(record_all(r, ids) for r in replicas))
    assert sum(sum(r) for r in results) == 600

    by_replica: Counter[int] = Counter()

    async def worker(n: int) -> None:
        replica = replicas[n % 3]
        while (lease := await replica.claim(limit=25, lease=LEASE)) is not None:
            async with AsyncSession(replica.engine) as session, session.begin():
                await replica.complete(lease, session=session)
                await session.execute(
                    text("INSERT INTO processed (delivery_id, batch) VALUES (:d, :b)"),
                    [{"d": d.delivery_id, "b": n} for d in lease.deliveries],
                )
                await asyncio.sleep(0.005)  # hold the rows while the others claim
            by_replica[n % 3] += len(lease.deliveries)

    await asyncio.gather(*(worker(n) for n in range(6)))
    counts = await processed_counts(store)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    assert all(by_replica[n] > 0 for n in range(3)), by_replica
    for replica in replicas:
        await replica.close()
    for engine in engines:
        await engine.dispose()


async def test_kill_9_loses_nothing_acknowledged(store: SqlStore, processed: None) -> None:
    """A process records and works off deliveries; it is killed with SIGKILL mid-stream and
    restarted: every delivery it acknowledged is processed exactly once."""
    if store.engine.dialect.name == "sqlite":
        url, schema = f"sqlite:///{store.engine.url.database}", ""
    else:
        url, schema = PG_URL, await _schema(store)
    acked: set[str] = set()
    batches = 0
    for run in range(2):  # killed twice: the second run also recovers the first's leftovers
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.store.inbox_child",
            url,
            schema,
            f"K{run}",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdout is not None
        seen = 0
        async with asyncio.timeout(60):
            while seen < 300 or batches < 3:
                line = (await child.stdout.readline()).decode()
                assert line, "the child process ended early"
                kind, _, value = line.strip().partition(" ")
                if kind == "ack":
                    acked.add(value)
                    seen += 1
                else:
                    batches += 1
        child.send_signal(signal.SIGKILL)
        rest, _ = await child.communicate()
        for line in rest.decode().splitlines(keepends=True):
            if line.startswith("ack ") and line.endswith("\n"):
                acked.add(line[4:].strip())
        assert child.returncode == -signal.SIGKILL

    restarted = Inbox(store.engine, clock=SystemClock())
    await restarted.recover()
    async with asyncio.timeout(30):  # on PostgreSQL the dead process's 2 s leases run out
        while await restarted.pending():
            if not await work_off(restarted, limit=50):
                await asyncio.sleep(0.2)
    counts = await processed_counts(store)
    assert acked <= set(counts), f"{len(acked - set(counts))} acknowledged but never processed"
    duplicates = {k: v for k, v in counts.items() if v > 1}
    assert not duplicates
    print(f"acked {len(acked)} processed {len(counts)} batches {batches}")
    async with store.engine.connect() as conn:
        recorded = (await conn.execute(text("SELECT count(*) FROM inbox_delivery"))).scalar_one()
    assert recorded == len(counts)
    await restarted.close()
