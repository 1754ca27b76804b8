"""The audit log is hash-chained: an edited, deleted or inserted entry is found."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.evidence import verify_chain
from store.database import SqlStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def fill(store: SqlStore, n: int) -> None:
    for i in range(n):
        async with store.transaction() as tx:
            await tx.evidence.append(
                at=T0 + timedelta(seconds=i),
                actor="alice",
                action="alert.acknowledged",
                system="billing-router",
                alert_id=i + 1,
                detail={"holder": "alice", "n": i, "nested": {"ok": True}},
            )


async def entries(store: SqlStore) -> list:  # type: ignore[type-arg]
    async with store.transaction() as tx:
        return await tx.evidence.entries()


async def test_an_intact_chain_verifies(store: SqlStore) -> None:
    await fill(store, 5)
    found = await entries(store)
    assert [e.seq for e in found] == [1, 2, 3, 4, 5]
    assert found[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(found))
    assert verify_chain(found) is None


async def test_an_edited_entry_is_found(store: SqlStore) -> None:
    await fill(store, 5)
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 3"))
    broken = verify_chain(await entries(store))
    assert broken is not None and broken.seq == 3 and "edited" in broken.reason


async def test_an_edited_time_is_found(store: SqlStore) -> None:
    await fill(store, 3)
    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_entry SET at = :at WHERE seq = 2"),
            {"at": datetime(2020, 1, 1)},
        )
    broken = verify_chain(await entries(store))
    assert broken is not None and broken.seq == 2


async def test_a_deleted_entry_is_found(store: SqlStore) -> None:
    await fill(store, 5)
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_entry WHERE seq = 4"))
    broken = verify_chain(await entries(store))
    assert broken is not None and broken.seq == 4 and "missing" in broken.reason


async def test_a_rewritten_tail_that_relinks_is_still_found(store: SqlStore) -> None:
    await fill(store, 3)
    # Editing the detail and recomputing nothing: the hash no longer matches the content.
    async with store.engine.begin() as conn:
        await conn.execute(
            text('UPDATE audit_entry SET detail = \'{"holder": "bob"}\' WHERE seq = 3')
        )
    broken = verify_chain(await entries(store))
    assert broken is not None and broken.seq == 3


async def test_concurrent_appends_never_fork_the_chain(store: SqlStore) -> None:
    async def one(i: int) -> None:
        async with store.transaction() as tx:
            await tx.evidence.append(
                at=T0, actor=f"p{i}", action="x", system=None, alert_id=None, detail={}
            )

    await asyncio.gather(*(one(i) for i in range(40)))
    found = await entries(store)
    assert len(found) == 40 and verify_chain(found) is None
