"""SqlRepository: the core's Repository over one SQLAlchemy session. It never commits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from bot.domain import (
    Alert,
    AlertState,
    AuditDraft,
    AuditEntry,
    DueStep,
    MessageRef,
    PlannedStep,
    StepState,
    StopRequest,
    SystemStatus,
)
from bot.evidence import entry_hash
from bot.ports import StepView
from store import schedule
from store.sql import dialect_insert, dialect_name
from store.tables import (
    AcknowledgementRow,
    AlertRow,
    AuditHeadRow,
    AuditRow,
    ClaimRow,
    ConfirmationRow,
    EscalationStepRow,
    SeenEvent,
    StopRequestRow,
    SystemStateRow,
)


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


ALERT = _table(AlertRow)
CLAIM = _table(ClaimRow)
ACK = _table(AcknowledgementRow)
STEP = _table(EscalationStepRow)
STOP = _table(StopRequestRow)
AUDIT = _table(AuditRow)
HEAD = _table(AuditHeadRow)
SEEN = _table(SeenEvent)
SYSTEM_STATE = _table(SystemStateRow)
CONFIRMATION = _table(ConfirmationRow)
A = ALERT.c
C = CLAIM.c
K = ACK.c
S = STEP.c
R = STOP.c
T = AUDIT.c
H = HEAD.c

_ALERT_COLUMNS = (
    *ALERT.c,
    C.channel.label("claim_channel"),
    C.message_id.label("claim_id"),
    C.thread.label("claim_thread"),
    C.combined.label("claim_combined"),
    K.person.label("ack_person"),
    K.at.label("ack_at"),
)


def _changed(result: Any) -> int:
    """Rows an UPDATE/INSERT/DELETE touched (CursorResult.rowcount; Result does not type it)."""
    return int(result.rowcount)


def _alert_query() -> Any:
    return (
        select(*_ALERT_COLUMNS)
        .select_from(ALERT)
        .outerjoin(CLAIM, C.alert_id == A.id)
        .outerjoin(ACK, K.alert_id == A.id)
    )


def _alert(row: Any) -> Alert:
    source = (
        MessageRef(row.platform, row.source_channel, row.source_id, row.source_thread)
        if row.source_id
        else None
    )
    claim = (
        MessageRef(row.platform, row.claim_channel, row.claim_id, row.claim_thread)
        if row.claim_id
        else None
    )
    return Alert(
        id=row.id,
        platform=row.platform,
        channel=row.channel,
        system=row.system,
        fingerprint=row.fingerprint,
        title=row.title,
        text=row.text,
        state=AlertState(row.state),
        holder=row.holder,
        opened_at=row.opened_at,
        link=row.link,
        source=source,
        claim=claim,
        acknowledged_by=row.ack_person,
        acknowledged_at=row.ack_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        held_since=row.held_since,
        repeats=row.repeats,
        claim_combined=bool(row.claim_combined),
    )


class SqlRepository:
    """Implements bot.ports.Repository on an AsyncSession whose transaction the Store owns."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = dialect_name(session)
        # The chain's tip once locked by this transaction; written back by `flush`.
        self._head: tuple[int, str] | None = None
        self._head_moved = False

    async def flush(self) -> None:
        """Write what this transaction keeps in memory (the audit chain's tip) before commit."""
        if self._head_moved and self._head is not None:
            seq, digest = self._head
            await self.session.execute(update(HEAD).where(H.id == 1).values(seq=seq, hash=digest))
            self._head_moved = False

    async def remember_event(self, *, key: str, at: datetime) -> bool:
        """Record an inbound event id; False when it was seen before."""
        stmt = (
            dialect_insert(self.session, SEEN)
            .values(key=key, at=at)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(SEEN.c.key)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def add_alert(
        self,
        *,
        platform: str,
        channel: str,
        system: str | None,
        fingerprint: str,
        open_key: str,
        title: str,
        text: str,
        holder: str | None,
        opened_at: datetime,
        link: str | None,
        source: MessageRef | None,
        claim_lease_until: datetime | None = None,
    ) -> Alert | None:
        """Store a new open alert; None when an open alert already has this `open_key`.
        `claim_lease_until` reserves posting the claim for the caller until then."""
        stmt = (
            dialect_insert(self.session, ALERT)
            .values(
                platform=platform,
                channel=channel,
                system=system,
                fingerprint=fingerprint,
                open_key=open_key,
                title=title[:300],
                text=text,
                state=AlertState.OPEN.value,
                holder=holder,
                held_since=opened_at,
                opened_at=opened_at,
                link=link,
                source_channel=source.channel if source else None,
                source_id=source.id if source else None,
                source_thread=source.thread if source else None,
                repeats=0,
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(A.id)
        )
        alert_id = (await self.session.execute(stmt)).scalar_one_or_none()
        if alert_id is None:
            return None
        await self.session.execute(
            insert(CLAIM).values(alert_id=alert_id, lease_until=claim_lease_until)
        )
        return Alert(  # what was just written: no need to read it back
            id=alert_id,
            platform=platform,
            channel=channel,
            system=system,
            fingerprint=fingerprint,
            title=title[:300],
            text=text,
            state=AlertState.OPEN,
            holder=holder,
            opened_at=opened_at,
            link=link,
            source=source,
            held_since=opened_at,
        )

    async def count_repeat(self, *, open_key: str) -> Alert | None:
        """Count one more delivery on the open alert with this key and return it."""
        alert_id = (
            await self.session.execute(
                update(ALERT)
                .where(A.open_key == open_key)
                .values(repeats=A.repeats + 1)
                .returning(A.id)
            )
        ).scalar_one_or_none()
        return await self.get_alert(alert_id=alert_id) if alert_id is not None else None

    async def get_alerts(self, *, alert_ids: Collection[int]) -> dict[int, Alert]:
        """Several alerts by id, in one query."""
        if not alert_ids:
            return {}
        rows = await self.session.execute(_alert_query().where(A.id.in_(list(alert_ids))))
        return {r.id: _alert(r) for r in rows}

    async def open_alert(self, *, open_key: str) -> Alert | None:
        """The open (not resolved) alert with this key, if any."""
        row = (await self.session.execute(_alert_query().where(A.open_key == open_key))).first()
        return _alert(row) if row else None

    async def get_alert(self, *, alert_id: int) -> Alert | None:
        """One alert by id."""
        row = (await self.session.execute(_alert_query().where(A.id == alert_id))).first()
        return _alert(row) if row else None

    async def open_alerts(self, *, system: str | None = None) -> list[Alert]:
        """Alerts not yet resolved, oldest first, optionally for one system."""
        query = _alert_query().where(A.state != AlertState.RESOLVED.value)
        if system is not None:
            query = query.where(A.system == system)
        rows = await self.session.execute(query.order_by(A.id))
        return [_alert(r) for r in rows]

    async def add_steps(self, *, alert_id: int, steps: Sequence[PlannedStep]) -> None:
        """Copy an escalation map onto an alert."""
        if steps:
            await self.session.execute(
                insert(STEP),
                [
                    {
                        "alert_id": alert_id,
                        "position": s.position,
                        "person": s.person,
                        "label": s.label,
                        "due_at": s.due_at,
                        "state": StepState.PENDING.value,
                    }
                    for s in steps
                ],
            )

    async def steps(self, *, alert_id: int) -> list[StepView]:
        """The alert's copied escalation steps, in order."""
        rows = await self.session.execute(
            select(S.position, S.person, S.label, S.due_at, S.state)
            .where(S.alert_id == alert_id)
            .order_by(S.position)
        )
        return [StepView(r.position, r.person, r.label, r.due_at, StepState(r.state)) for r in rows]

    async def take_claim_post(self, *, alert_id: int, now: datetime, lease: timedelta) -> bool:
        """Lease the right to post this alert's claim; False if posted or leased elsewhere."""
        result = await self.session.execute(
            update(CLAIM)
            .where(
                C.alert_id == alert_id,
                C.message_id.is_(None),
                or_(C.lease_until.is_(None), C.lease_until < now),
            )
            .values(lease_until=now + lease)
        )
        return _changed(result) > 0

    async def unposted_claims(self, *, now: datetime, limit: int) -> list[int]:
        """Ids of alerts whose claim was never posted and whose posting lease has lapsed."""
        rows = await self.session.execute(
            select(C.alert_id)
            .join(ALERT, A.id == C.alert_id)
            .where(
                C.message_id.is_(None),
                C.lease_until.is_not(None),
                C.lease_until < now,
                A.state != AlertState.RESOLVED.value,
            )
            .order_by(C.alert_id)
            .limit(limit)
        )
        return [r.alert_id for r in rows]

    async def set_claim(
        self, *, alert_id: int, message: MessageRef, combined: bool = False
    ) -> bool:
        """Remember where the claim message lives (a storm board when `combined`); False
        when another worker's claim message was recorded first."""
        result = await self.session.execute(
            update(CLAIM)
            .where(C.alert_id == alert_id, C.message_id.is_(None))
            .values(
                channel=message.channel,
                message_id=message.id,
                thread=message.thread,
                combined=combined,
                posted_at=func.now(),
                lease_until=None,
            )
        )
        return _changed(result) > 0

    async def alerts_on_claim(self, *, message: MessageRef) -> list[Alert]:
        """Every alert whose claim is this message (one, or a storm board's many)."""
        rows = await self.session.execute(
            _alert_query()
            .where(C.message_id == message.id, C.channel == message.channel)
            .order_by(A.id)
        )
        return [_alert(r) for r in rows]

    async def change_state(
        self,
        *,
        alert_id: int,
        to: AlertState,
        person: str,
        at: datetime,
        allowed_from: Sequence[AlertState],
    ) -> Alert | None:
        """Move an alert to `to` only from `allowed_from`; one winner among racing clicks."""
        values: dict[str, Any] = {"state": to.value}
        if to == AlertState.RESOLVED:
            values.update(resolved_by=person, resolved_at=at, open_key=None)
        elif to == AlertState.ACKNOWLEDGED:
            values.update(holder=person, held_since=at)
        result = await self.session.execute(
            update(ALERT)
            .where(A.id == alert_id, A.state.in_([s.value for s in allowed_from]))
            .values(**values)
        )
        if not _changed(result):
            return None
        if to == AlertState.ACKNOWLEDGED:
            await self.session.execute(insert(ACK).values(alert_id=alert_id, person=person, at=at))
        await self.session.execute(
            update(STEP)
            .where(S.alert_id == alert_id, S.state == StepState.PENDING.value)
            .values(state=StepState.CANCELLED.value, lease_token=None, lease_until=None)
        )
        return await self.get_alert(alert_id=alert_id)

    async def hand_off(self, *, alert_id: int, to: str, at: datetime) -> Alert | None:
        """Give an unresolved alert to another person; None if it is resolved."""
        result = await self.session.execute(
            update(ALERT)
            .where(A.id == alert_id, A.state != AlertState.RESOLVED.value)
            .values(holder=to, held_since=at)
        )
        if not _changed(result):
            return None
        return await self.get_alert(alert_id=alert_id)

    async def take_due_steps(
        self, *, now: datetime, lease: timedelta, worker: str, limit: int
    ) -> list[DueStep]:
        """Lease due pending steps of open alerts, skipping rows other replicas have locked."""
        query = (
            select(S.id)
            .join(ALERT, A.id == S.alert_id)
            .where(
                S.state == StepState.PENDING.value,
                S.due_at <= now,
                A.state == AlertState.OPEN.value,
                or_(S.lease_until.is_(None), S.lease_until < now),
            )
            .order_by(S.due_at, S.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(of=STEP, skip_locked=True)
        ids = list((await self.session.execute(query)).scalars())
        if not ids:
            return []
        token = f"{worker}:{uuid.uuid4().hex[:16]}"
        await self.session.execute(
            update(STEP).where(S.id.in_(ids)).values(lease_token=token, lease_until=now + lease)
        )
        rows = await self.session.execute(
            select(S.id, S.alert_id, S.position, S.person, S.label, S.due_at, S.message_id)
            .where(S.id.in_(ids))
            .order_by(S.due_at, S.id)
        )
        return [
            DueStep(r.id, r.alert_id, r.position, r.person, r.label, r.due_at, token, r.message_id)
            for r in rows
        ]

    async def finish_steps(
        self, *, finished: Sequence[tuple[DueStep, str | None]], at: datetime
    ) -> set[int]:
        """Mark leased steps sent with their direct message ids; returns the ids finished
        (a step whose lease another worker took since is left to that worker)."""
        if not finished:
            return set()
        query = select(S.id, S.lease_token).where(
            S.id.in_([step.id for step, _ in finished]), S.state == StepState.PENDING.value
        )
        if self.dialect == "postgresql":
            query = query.with_for_update()
        held = {r.id: r.lease_token for r in await self.session.execute(query)}
        rows: list[dict[str, Any]] = [
            {"b_id": step.id, "b_message": message_id}
            for step, message_id in finished
            if held.get(step.id) == step.lease_token
        ]
        if rows:
            await self.session.execute(
                update(STEP)
                .where(S.id == bindparam("b_id"))
                .values(
                    state=StepState.SENT.value,
                    sent_at=at,
                    message_id=bindparam("b_message"),
                    lease_until=None,
                ),
                rows,
            )
        return {int(r["b_id"]) for r in rows}

    async def add_stop_request(
        self,
        *,
        system: str,
        kind: str,
        requested_by: str,
        user_id: str,
        platform: str,
        reason: str,
        channel: str | None,
        at: datetime,
    ) -> StopRequest:
        """Record a stop or resume awaiting the holder's confirmation."""
        request_id = (
            await self.session.execute(
                insert(STOP)
                .values(
                    system=system,
                    kind=kind,
                    requested_by=requested_by,
                    user_id=user_id,
                    platform=platform,
                    reason=reason,
                    channel=channel,
                    state="requested",
                    requested_at=at,
                    result="",
                )
                .returning(R.id)
            )
        ).scalar_one()
        found = await self.get_stop_request(request_id=request_id)
        assert found is not None
        return found

    async def get_stop_request(self, *, request_id: int) -> StopRequest | None:
        """One stop request by id."""
        found = await self._stop_requests(R.id == request_id)
        return found[0] if found else None

    async def stop_requests(self, *, state: str, before: datetime) -> list[StopRequest]:
        """Stop requests in `state` since before `before` (for expiry sweeps)."""
        return await self._stop_requests(
            R.state == state, func.coalesce(R.updated_at, R.requested_at) < before
        )

    async def _stop_requests(self, *conditions: Any) -> list[StopRequest]:
        rows = await self.session.execute(select(STOP).where(*conditions).order_by(R.id))
        return [
            StopRequest(
                id=r.id,
                system=r.system,
                kind=r.kind,
                requested_by=r.requested_by,
                user_id=r.user_id,
                platform=r.platform,
                reason=r.reason,
                state=r.state,
                requested_at=r.requested_at,
                channel=r.channel,
            )
            for r in rows
        ]

    async def move_stop_request(
        self, *, request_id: int, from_state: str, to_state: str, at: datetime, result: str = ""
    ) -> bool:
        """Conditional state change; False when another click got there first."""
        done = await self.session.execute(
            update(STOP)
            .where(R.id == request_id, R.state == from_state)
            .values(state=to_state, updated_at=at, result=result)
        )
        return _changed(done) > 0

    async def set_system_status(self, *, system: str, stopped: bool, at: datetime, by: str) -> None:
        """Record that a system was stopped or resumed."""
        stmt = dialect_insert(self.session, SYSTEM_STATE).values(
            system=system, stopped=stopped, changed_at=at, changed_by=by
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["system"],
                set_={"stopped": stopped, "changed_at": at, "changed_by": by},
            )
        )

    async def system_status(self, *, system: str) -> SystemStatus:
        """Whether a system is stopped."""
        table = SYSTEM_STATE
        r = (await self.session.execute(select(table).where(table.c.system == system))).first()
        if r is None:
            return SystemStatus(system, False)
        return SystemStatus(system, r.stopped, r.changed_at, r.changed_by)

    async def record_confirmation(
        self, *, system: str, role: str, person: str, at: datetime
    ) -> None:
        """A role holder said "still mine"."""
        await self.session.execute(
            insert(CONFIRMATION).values(system=system, role=role, person=person, at=at)
        )

    async def confirmations(self, *, system: str) -> dict[str, tuple[str, datetime]]:
        """Role -> (person, when) of the latest confirmation of each role."""
        c = CONFIRMATION.c
        rows = await self.session.execute(
            select(c.role, c.person, c.at).where(c.system == system).order_by(c.at, c.id)
        )
        return {r.role: (r.person, r.at) for r in rows}

    async def append_audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        system: str | None,
        alert_id: int | None,
        detail: dict[str, object],
    ) -> AuditEntry:
        """Append one hash-chained entry."""
        (entry,) = await self.append_audits(
            entries=[AuditDraft(at, actor, action, system, alert_id, detail)]
        )
        return entry

    async def append_audits(self, *, entries: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append entries in order, holding the chain's tip row locked until commit."""
        if not entries:
            return []
        if self._head is None:
            row = (
                await self.session.execute(select(H.seq, H.hash).where(H.id == 1).with_for_update())
            ).one()
            self._head = (row.seq, row.hash)
        out: list[AuditEntry] = []
        for draft in entries:
            detail = json.loads(json.dumps(draft.detail, default=str))
            prev_seq, prev_hash = self._head
            digest = entry_hash(
                prev_hash=prev_hash,
                seq=prev_seq + 1,
                at=draft.at,
                actor=draft.actor,
                action=draft.action,
                system=draft.system,
                alert_id=draft.alert_id,
                detail=detail,
            )
            out.append(
                AuditEntry(
                    prev_seq + 1,
                    draft.at,
                    draft.actor,
                    draft.action,
                    draft.system,
                    draft.alert_id,
                    detail,
                    prev_hash,
                    digest,
                )
            )
            self._head = (prev_seq + 1, digest)
        await self.session.execute(
            insert(AUDIT),
            [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "system": e.system,
                    "alert_id": e.alert_id,
                    "detail": json.dumps(e.detail, sort_keys=True),
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in out
            ],
        )
        self._head_moved = True
        return out

    async def audit_entries(self, *, system: str | None = None) -> list[AuditEntry]:
        """Evidence in order, optionally for one system."""
        query = select(AUDIT).order_by(T.seq)
        if system is not None:
            query = query.where(T.system == system)
        rows = await self.session.execute(query)
        return [
            AuditEntry(
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
            for r in rows
        ]

    async def forget_events_before(self, *, before: datetime) -> int:
        """Drop delivery ids older than any platform retries (housekeeping)."""
        result = await self.session.execute(delete(SEEN).where(SEEN.c.at < before))
        return _changed(result)

    # ---- schedules, stale ownership, replicas (issue 5) ----

    async def claim_run(self, *, job: str, period: str, worker: str, at: datetime) -> bool:
        """Record that `worker` runs `job` for `period`; False when a replica already did."""
        return await schedule.claim_run(self.session, job=job, period=period, worker=worker, at=at)

    async def finish_run(self, *, job: str, period: str, at: datetime, summary: str) -> None:
        """Record when and how a claimed run ended."""
        await schedule.finish_run(self.session, job=job, period=period, at=at, summary=summary)

    async def last_run(self, *, job: str, excluding: str | None = None) -> datetime | None:
        """When the latest run of `job` started, leaving out the period `excluding`."""
        return await schedule.last_run(self.session, job=job, excluding=excluding)

    async def unowned_alerts(self, *, since: datetime | None) -> list[Alert]:
        """Alerts no system matched, opened at or after `since` (all when None), oldest first."""
        query = _alert_query().where(A.system.is_(None))
        if since is not None:
            query = query.where(A.opened_at >= since)
        rows = await self.session.execute(query.order_by(A.opened_at, A.id))
        return [_alert(r) for r in rows]

    async def open_alert_counts(self) -> dict[str | None, int]:
        """Unresolved alerts per system (None: unowned)."""
        rows = await self.session.execute(
            select(A.system, func.count())
            .where(A.state != AlertState.RESOLVED.value)
            .group_by(A.system)
        )
        return {system: int(count) for system, count in rows}

    async def mark_steps_direct(self, *, marks: Sequence[tuple[DueStep, str]]) -> None:
        """Remember the direct message of steps whose lease is still held, so a worker that
        takes a step over after a crash does not send it again."""
        if marks:
            await self.session.execute(
                update(STEP)
                .where(
                    S.id == bindparam("b_id"),
                    S.lease_token == bindparam("b_token"),
                    S.state == StepState.PENDING.value,
                )
                .values(message_id=bindparam("b_message")),
                [
                    {"b_id": step.id, "b_token": step.lease_token, "b_message": message_id}
                    for step, message_id in marks
                ],
            )
