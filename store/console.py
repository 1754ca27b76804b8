"""What the console reads.

Reads run on their own connections, outside the service's transactions: the console only
looks. Figures that every systems page needs for all systems (latest confirmations) are kept
in memory and topped up with the rows added since the last read, so a page at 10,000 systems
costs a few small queries, not a scan.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from contextvars import Context, ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import SQLModel

from bot.domain import AuditEntry
from bot.evidence import ChainBreak, verify_chain
from bot.scorecard import Record
from store.governance import GovernanceRepository
from store.tables import (
    AcknowledgementRow,
    AlertRow,
    AuditRow,
    ConfirmationRow,
    EscalationStepRow,
    SystemStateRow,
)


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


ALERT = _table(AlertRow)
ACK = _table(AcknowledgementRow)
STEP = _table(EscalationStepRow)
AUDIT = _table(AuditRow)
CONFIRMATION = _table(ConfirmationRow)
SYSTEM_STATE = _table(SystemStateRow)

# Confirmation ids from several replicas may commit out of order; re-reading a window of
# recent ids catches a row that committed after a later one was already read.
_REREAD = 64

T = TypeVar("T")
_SHARED: ContextVar[AsyncConnection | None] = ContextVar("console_connection", default=None)
# Spelled out rather than `!= resolved`, so the index on `state` serves the query.
UNRESOLVED = ("open", "acknowledged")


@dataclass(frozen=True)
class AlertLine:
    """An alert as the console lists it."""

    id: int
    system: str | None
    title: str
    state: str
    holder: str | None
    opened_at: datetime
    channel: str
    platform: str
    repeats: int
    link: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class StepLine:
    """A copied escalation step: who, when due, and whether it was sent."""

    alert_id: int
    position: int
    person: str
    label: str
    due_at: datetime
    state: str
    sent_at: datetime | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list."""

    items: list[T]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        """Whether another page follows."""
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class AlertFilter:
    """What the open-alerts and system pages narrow alerts by."""

    system: str | None = None
    unowned: bool = False  # only alerts no system matched
    holder: str | None = None
    state: str | None = None
    open_only: bool = True


@dataclass(frozen=True)
class AuditFilter:
    """What the evidence page narrows the timeline by."""

    system: str | None = None
    actor: str | None = None
    action: str | None = None
    alert_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class ChainCheck:
    """Whether the hash chain verified, over how many entries, and the first break."""

    entries: int
    broken: ChainBreak | None
    checked_at: datetime


@dataclass
class _Confirmations:
    latest: dict[str, dict[str, tuple[str, datetime]]] = field(default_factory=dict)
    order: dict[tuple[str, str], tuple[datetime, int]] = field(default_factory=dict)
    max_id: int = 0


def _alert_line(r: Any) -> AlertLine:
    return AlertLine(
        id=r.id,
        system=r.system,
        title=r.title,
        state=r.state,
        holder=r.holder,
        opened_at=r.opened_at,
        channel=r.channel,
        platform=r.platform,
        repeats=r.repeats,
        link=r.link,
        acknowledged_by=r.ack_person,
        acknowledged_at=r.ack_at,
        resolved_by=r.resolved_by,
        resolved_at=r.resolved_at,
    )


def _entry(r: Any) -> AuditEntry:
    return AuditEntry(
        r.seq,
        r.at,
        r.actor,
        r.action,
        r.system,
        r.alert_id,
        json.loads(r.detail),
        r.prev_hash,
        r.hash,
    )


class ConsoleStore:
    """The console's reads and its sign-in records, over the bot's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._confirmations = _Confirmations()
        self._chain: tuple[tuple[int, str], ChainCheck] | None = None
        self._walking: asyncio.Task[ChainCheck] | None = None
        self._actions: tuple[datetime, list[str]] | None = None

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        """Serve every read inside the block from one connection: a page makes several
        reads, and each checkout of a pooled connection costs a round trip of its own."""
        if _SHARED.get() is not None:
            yield
            return
        async with self.engine.connect() as conn:
            token = _SHARED.set(conn)
            try:
                yield
            finally:
                _SHARED.reset(token)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        shared = _SHARED.get()
        if shared is not None:
            yield shared
            return
        async with self.engine.connect() as conn:
            yield conn

    # ---- systems ------------------------------------------------------------------------------

    async def confirmations(self) -> Mapping[str, Mapping[str, tuple[str, datetime]]]:
        """System -> role -> (person, when) of each role's latest confirmation. The mapping
        is the cache itself: callers only read it."""
        cache = self._confirmations
        c = CONFIRMATION.c
        async with self._connect() as conn:
            rows = await conn.execute(
                select(c.id, c.system, c.role, c.person, c.at)
                .where(c.id > cache.max_id - _REREAD)
                .order_by(c.id)
            )
            for r in rows:
                known = cache.order.get((r.system, r.role))
                if known is None or (r.at, r.id) >= known:
                    cache.order[(r.system, r.role)] = (r.at, r.id)
                    cache.latest.setdefault(r.system, {})[r.role] = (r.person, r.at)
                cache.max_id = max(cache.max_id, r.id)
        return cache.latest

    async def stopped(self) -> dict[str, tuple[datetime | None, str | None]]:
        """Systems stopped right now, with when and by whom."""
        t = SYSTEM_STATE.c
        async with self._connect() as conn:
            rows = await conn.execute(
                select(t.system, t.changed_at, t.changed_by).where(t.stopped.is_(True))
            )
            return {r.system: (r.changed_at, r.changed_by) for r in rows}

    async def open_counts(self) -> dict[str | None, int]:
        """Unresolved alerts per system (None: unowned)."""
        a = ALERT.c
        async with self._connect() as conn:
            rows = await conn.execute(
                select(a.system, func.count()).where(a.state.in_(UNRESOLVED)).group_by(a.system)
            )
            return {system: int(n) for system, n in rows}

    # ---- alerts -------------------------------------------------------------------------------

    async def alerts(self, *, where: AlertFilter, offset: int, limit: int) -> Page[AlertLine]:
        """Alerts matching `where`: open ones oldest first, otherwise newest first."""
        a = ALERT.c
        conditions: list[Any] = []
        if where.open_only:
            conditions.append(a.state.in_(UNRESOLVED))
        if where.system is not None:
            conditions.append(a.system == where.system)
        if where.unowned:
            conditions.append(a.system.is_(None))
        if where.holder is not None:
            conditions.append(a.holder == where.holder)
        if where.state is not None:
            conditions.append(a.state == where.state)
        order = (a.opened_at, a.id) if where.open_only else (a.opened_at.desc(), a.id.desc())
        query = (
            select(*ALERT.c, ACK.c.person.label("ack_person"), ACK.c.at.label("ack_at"))
            .select_from(ALERT.outerjoin(ACK, ACK.c.alert_id == a.id))
            .where(*conditions)
            .order_by(*order)
            .offset(offset)
            .limit(limit)
        )
        async with self._connect() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(ALERT).where(*conditions))
            ).scalar_one()
            rows = await conn.execute(query)
            items = [_alert_line(r) for r in rows]
        return Page(items, int(total), offset, limit)

    async def steps(self, *, alert_ids: Collection[int]) -> dict[int, list[StepLine]]:
        """The copied escalation steps of these alerts, in order."""
        if not alert_ids:
            return {}
        s = STEP.c
        async with self._connect() as conn:
            rows = await conn.execute(
                select(s.alert_id, s.position, s.person, s.label, s.due_at, s.state, s.sent_at)
                .where(s.alert_id.in_(list(alert_ids)))
                .order_by(s.alert_id, s.position)
            )
            out: dict[int, list[StepLine]] = {}
            for r in rows:
                out.setdefault(r.alert_id, []).append(
                    StepLine(
                        r.alert_id, r.position, r.person, r.label, r.due_at, r.state, r.sent_at
                    )
                )
        return out

    async def scorecard_record(
        self, *, since: datetime, until: datetime, systems: Collection[str]
    ) -> Record:
        """What these systems' scorecards read (the governance repository's query)."""
        async with self._connect() as conn:
            session = AsyncSession(bind=conn)
            return await GovernanceRepository(session).scorecard_record(
                since=since, until=until, systems=list(systems)
            )

    # ---- evidence -----------------------------------------------------------------------------

    async def audit(
        self, *, where: AuditFilter, before: int | None, limit: int
    ) -> list[AuditEntry]:
        """Evidence entries matching `where`, newest first, older than `before` (a seq)."""
        t = AUDIT.c
        conditions: list[Any] = []
        if before is not None:
            conditions.append(t.seq < before)
        if where.system is not None:
            conditions.append(t.system == where.system)
        if where.actor is not None:
            conditions.append(t.actor == where.actor)
        if where.action is not None:
            conditions.append(t.action == where.action)
        if where.alert_id is not None:
            conditions.append(t.alert_id == where.alert_id)
        if where.since is not None:
            conditions.append(t.at >= where.since)
        if where.until is not None:
            conditions.append(t.at < where.until)
        async with self._connect() as conn:
            rows = await conn.execute(
                select(AUDIT).where(*conditions).order_by(t.seq.desc()).limit(limit)
            )
            return [_entry(r) for r in rows]

    async def actions(self, *, now: datetime) -> list[str]:
        """Every kind of evidence recorded (the filter's choices), read at most once a
        minute: the list is a scan of the whole log and new kinds are rare."""
        if self._actions is not None and now - self._actions[0] < timedelta(minutes=1):
            return self._actions[1]
        async with self._connect() as conn:
            rows = await conn.execute(select(AUDIT.c.action).distinct().order_by(AUDIT.c.action))
            found = [str(r[0]) for r in rows]
        self._actions = (now, found)
        return found

    async def verify(self, *, now: datetime, fresh_for: timedelta) -> ChainCheck:
        """Whether the whole chain verifies. The first call walks it; later calls answer from
        the last walk and, once that is older than `fresh_for` or the chain has grown, start
        a new walk in the background: no page waits on a walk of a long log, and an edit
        deep in the log shows within `fresh_for` plus one walk."""
        t = AUDIT.c
        async with self._connect() as conn:
            tip = (
                await conn.execute(select(t.seq, t.hash).order_by(t.seq.desc()).limit(1))
            ).first()
        key = (int(tip.seq), str(tip.hash)) if tip is not None else (0, "")
        if self._chain is None:
            return await self._walk(key, now)
        known, check = self._chain
        if (known != key or now - check.checked_at >= fresh_for) and self._walking is None:
            # A fresh context: the walk outlives the request and its shared connection.
            self._walking = asyncio.create_task(self._walk(key, now), context=Context())
        return check

    async def settled(self) -> None:
        """Wait for a background walk of the chain, if one is running."""
        if self._walking is not None:
            await self._walking

    async def _walk(self, key: tuple[int, str], now: datetime) -> ChainCheck:
        try:
            t = AUDIT.c
            async with self.engine.connect() as conn:
                stream = await conn.stream(
                    select(AUDIT)
                    .where(t.seq <= key[0])
                    .order_by(t.seq)
                    .execution_options(yield_per=2000)
                )
                entries = [_entry(r) async for r in stream]
            # Hashing a long log is CPU work: off the event loop.
            broken = await asyncio.to_thread(verify_chain, entries)
            check = ChainCheck(len(entries), broken, now)
            self._chain = (key, check)
            return check
        finally:
            self._walking = None
