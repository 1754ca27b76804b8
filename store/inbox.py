"""The inbox: deliveries recorded durably before they are answered, then worked off in batches.

Recording is a group commit. `record` queues the delivery and waits; one writer task takes
everything queued (after lingering a couple of milliseconds for company) and stores it in one
transaction with one multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING`, so a burst of
deliveries costs one commit, not one each. A redelivery of a known (platform, delivery id) is
reported as not new. If the transaction fails, every waiter of that group gets RecordFailed, so
the caller answers 5xx and the platform delivers again.

On SQLite the writes run on one dedicated thread with its own connection, so a transaction is
exactly one thread hand-off (the async driver would cost one per statement). That connection
runs with `synchronous=FULL`: in WAL mode a commit is then fsynced before `record` returns, so
an acknowledged delivery survives an OS crash or power loss, not only a `kill -9` (which
NORMAL already survives). Group commit pays that one fsync per group: about 0.1 ms here.

Working off: `claim` hands a batch of pending deliveries to one worker under a lease
(PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas never take the same rows). `complete` with
the worker's session marks them done inside the worker's own transaction and raises LeaseLost
when another worker has taken them over, so the processing's writes and the done mark commit
together or not at all: each delivery's effects are committed exactly once. Without a session
it marks done in a transaction of its own (for idempotent processing). A lease that runs out is
taken over; after a restart on SQLite (one process per file) `recover` frees the leases the
dead process held at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, create_engine, delete, event, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.ports import Clock
from store.serial import WriterLock
from store.tables import InboxDeliveryRow

INBOX = cast(Table, InboxDeliveryRow.__table__)  # type: ignore[attr-defined]
D = INBOX.c
KEY_LENGTH = 255

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Delivery:
    """A recorded delivery as a worker receives it."""

    id: int
    platform: str
    delivery_id: str
    kind: str
    payload: str
    received_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class Lease:
    """Deliveries handed to one worker until `until`, in arrival order."""

    token: str
    until: datetime
    deliveries: tuple[Delivery, ...]

    @property
    def ids(self) -> list[int]:
        """The inbox ids of the leased deliveries."""
        return [d.id for d in self.deliveries]


class RecordFailed(RuntimeError):
    """The delivery was not recorded: answer 5xx so the platform delivers it again."""


class LeaseLost(RuntimeError):
    """Another worker took these deliveries over; roll back what was done with them."""


@dataclass(slots=True)
class _Waiter:
    row: dict[str, Any]
    future: asyncio.Future[bool]


def delivery_key(delivery_id: str) -> str:
    """The stored dedup key: the id itself, or a digest of one longer than the column."""
    if len(delivery_id) <= KEY_LENGTH:
        return delivery_id
    return "sha256:" + hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        platform=row.platform,
        delivery_id=row.delivery_id,
        kind=row.kind,
        payload=row.payload,
        received_at=row.received_at,
        attempts=row.attempts,
    )


def _sqlite_writer(engine: AsyncEngine) -> Engine:
    """A blocking engine on the same SQLite file, used only from the inbox's own thread."""
    sync = create_engine(engine.url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0)

    @event.listens_for(sync, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=FULL")  # see the module docstring
        cursor.close()

    return sync


class Inbox:
    """Durable intake of deliveries (group commit) and their hand-out to workers (leases)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock,
        linger: float = 0.002,
        max_batch: int = 1000,
        writer_lock: WriterLock | None = None,
    ) -> None:
        """`linger`: seconds the writer waits for more deliveries before a commit;
        `writer_lock`: on SQLite, the lock the process's other writers queue on; the inbox
        takes it ahead of them (a platform is waiting), instead of polling SQLite's busy
        handler."""
        self.engine = engine
        self.clock = clock
        self.linger = linger
        self.max_batch = max_batch
        self._writer_lock = writer_lock
        self._sync: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        dialect = engine.dialect.name
        if dialect == "sqlite":
            self._sync = _sqlite_writer(engine)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox")
        insert = postgresql.insert(INBOX) if dialect == "postgresql" else sqlite.insert(INBOX)
        self._insert = insert.on_conflict_do_nothing(
            index_elements=["platform", "delivery_id"]
        ).returning(D.platform, D.delivery_id)
        self._queue: list[_Waiter] = []
        self._writer: asyncio.Task[None] | None = None
        self._work = asyncio.Event()
        self._closed = False
        self.transactions = 0  # groups committed, for benchmarks and metrics
        self.recorded = 0  # new deliveries committed

    # ---- recording -------------------------------------------------------------------------

    async def record(self, *, platform: str, delivery_id: str, kind: str, payload: str) -> bool:
        """Record a delivery; returns once it is committed: True when new, False when this
        (platform, delivery id) was recorded before. Raises RecordFailed when it could not be
        stored (answer 5xx)."""
        if self._closed:
            raise RecordFailed("the inbox is closed")
        if len(platform) > 16 or len(kind) > 32:
            raise ValueError("platform or kind too long")
        row = {
            "platform": platform,
            "delivery_id": delivery_key(delivery_id),
            "kind": kind,
            "payload": payload,
            "attempts": 0,
        }
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiter(row, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_groups(), name="inbox-writer")
        return await future

    async def _write_groups(self) -> None:
        # Runs while anything is queued; `record` starts it again when it has ended.
        while self._queue:
            if self.linger > 0 and len(self._queue) < self.max_batch:
                await asyncio.sleep(self.linger)
            group = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            await self._commit(group)

    async def _commit(self, group: list[_Waiter]) -> None:
        now = self.clock.now()
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for waiter in group:
            key = (waiter.row["platform"], waiter.row["delivery_id"])
            rows.setdefault(key, {**waiter.row, "received_at": now})
        statement = self._insert

        def insert(conn: Connection) -> set[tuple[str, str]]:
            return {(r[0], r[1]) for r in conn.execute(statement, list(rows.values()))}

        try:
            inserted = await self._run(insert, urgent=True)
        except Exception as exc:  # any storage failure: nobody in the group is acknowledged
            for waiter in group:
                if not waiter.future.done():
                    failed = RecordFailed(f"delivery not recorded: {exc.__class__.__name__}")
                    failed.__cause__ = exc
                    waiter.future.set_exception(failed)
            return
        self.transactions += 1
        self.recorded += len(inserted)
        for waiter in group:
            key = (waiter.row["platform"], waiter.row["delivery_id"])
            new = key in inserted
            inserted.discard(key)  # a repeat within the group is not new either
            if not waiter.future.done():
                waiter.future.set_result(new)
        self._work.set()

    # ---- working off ---------------------------------------------------------------------

    async def claim(self, *, limit: int, lease: timedelta) -> Lease | None:
        """Lease up to `limit` pending deliveries (oldest first, including ones whose lease ran
        out) to the caller; None when there are none."""
        now = self.clock.now()
        token = uuid.uuid4().hex
        until = now + lease
        picked = (
            select(D.id)
            .where(D.done_at.is_(None), or_(D.lease_until.is_(None), D.lease_until <= now))
            .order_by(D.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("picked")
        )
        statement = (
            update(INBOX)
            .where(D.id.in_(select(picked.c.id)))
            .values(lease_token=token, lease_until=until, attempts=D.attempts + 1)
            .returning(*INBOX.c)
        )

        def take(conn: Connection) -> list[Delivery]:
            return [_delivery(row) for row in conn.execute(statement)]

        taken = await self._run(take)
        if not taken:
            return None
        return Lease(token, until, tuple(sorted(taken, key=lambda d: d.id)))

    async def complete(
        self,
        lease: Lease,
        *,
        ids: Collection[int] | None = None,
        session: AsyncSession | None = None,
    ) -> int:
        """Mark leased deliveries (all, or `ids`) done. With `session`, inside the caller's
        transaction (call it first: the rows stay locked until commit) and raising LeaseLost
        unless every one was still held; without, in a transaction of its own, returning how
        many were still held (the rest belong to whoever took them over)."""
        chosen = lease.ids if ids is None else list(ids)
        if not chosen:
            return 0
        statement = (
            update(INBOX)
            .where(D.id.in_(chosen), D.lease_token == lease.token, D.done_at.is_(None))
            .values(done_at=self.clock.now(), lease_token=None, lease_until=None)
        )
        if session is not None:
            changed = _rowcount(await session.execute(statement))
            if changed != len(set(chosen)):
                raise LeaseLost(f"{len(chosen) - changed} of {len(chosen)} deliveries taken over")
            return changed
        return await self._run(lambda conn: _rowcount(conn.execute(statement)))

    async def release(
        self, lease: Lease, *, delay: timedelta, ids: Collection[int] | None = None
    ) -> int:
        """Give leased deliveries back, to be claimed again after `delay` (a passing failure
        delays work, it never drops it)."""
        chosen = lease.ids if ids is None else list(ids)
        statement = (
            update(INBOX)
            .where(D.id.in_(chosen), D.lease_token == lease.token, D.done_at.is_(None))
            .values(lease_token=None, lease_until=self.clock.now() + delay)
        )
        return await self._run(lambda conn: _rowcount(conn.execute(statement)))

    async def recover(self) -> int:
        """After a restart on SQLite, free the leases the previous process held (one process
        per file, so they are all dead). On PostgreSQL other replicas may hold live leases:
        nothing is freed and dead ones run out."""
        if self._sync is None:
            return 0
        statement = (
            update(INBOX)
            .where(D.done_at.is_(None), D.lease_token.is_not(None))
            .values(lease_token=None, lease_until=None)
        )
        return await self._run(lambda conn: _rowcount(conn.execute(statement)))

    async def pending(self) -> int:
        """Deliveries not yet done (the backlog)."""
        statement = select(func.count()).select_from(INBOX).where(D.done_at.is_(None))
        return await self._run(lambda conn: int(conn.execute(statement).scalar_one()))

    async def prune(self, *, before: datetime, limit: int = 10_000) -> int:
        """Forget up to `limit` deliveries done before `before`; their ids no longer dedup."""
        old = select(D.id).where(D.done_at < before).limit(limit)
        statement = delete(INBOX).where(D.id.in_(old))
        return await self._run(lambda conn: _rowcount(conn.execute(statement)))

    async def wait_for_work(self, seconds: float) -> None:
        """Return when this process has recorded something new, or after `seconds` (other
        replicas' deliveries are found by polling)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), seconds)
        self._work.clear()

    async def close(self) -> None:
        """Finish the queued groups, then release the connections and the thread."""
        self._closed = True
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._sync is not None and self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync.dispose)
            self._thread.shutdown(wait=True)
            self._sync = None

    # ---- transactions --------------------------------------------------------------------

    async def _run(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Run `work` in one transaction: on SQLite one hand-off to the inbox thread, after
        the process's other writers (`urgent`: ahead of those waiting)."""
        if self._sync is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        sync = self._sync

        def transaction() -> T:
            with sync.begin() as conn:
                return work(conn)

        loop = asyncio.get_running_loop()
        if self._writer_lock is None:
            return await loop.run_in_executor(self._thread, transaction)
        await self._writer_lock.acquire(urgent=urgent)
        try:
            return await loop.run_in_executor(self._thread, transaction)
        finally:
            self._writer_lock.release()


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
