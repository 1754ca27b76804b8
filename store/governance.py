"""Governance and review storage: the batched reads that turn the record into scorecard and
review inputs, and the writes of digests, decisions, resolve forms, follow-ups and registry
versions. One GovernanceRepository per transaction's session; it never commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, String, func, or_, select, type_coerce, update
from sqlalchemy import cast as cast_

from bot.scorecard import REWORK_WINDOW, AlertRecord, DigestRecord, Record, StopRecord
from store.sql import SessionRepository, changed, dialect_insert, table
from store.tables import (
    AcknowledgementRow,
    AlertRow,
    AuditRow,
    EscalationStepRow,
    GovernanceDigestRow,
    StopRequestRow,
)

ALERT = table(AlertRow)
ACK = table(AcknowledgementRow)
STEP = table(EscalationStepRow)
STOP = table(StopRequestRow)
AUDIT = table(AuditRow)
DIGEST = table(GovernanceDigestRow)
A, K, S, R, T, G = ALERT.c, ACK.c, STEP.c, STOP.c, AUDIT.c, DIGEST.c

CLAIMED = ("alert.claimed", "alert.unowned")
HANDED_OFF = "alert.handed_off"
CONFIRMED_STATES = frozenset({"running", "done", "failed"})


def _raw(column: Any) -> Any:
    """A time column read as the driver hands it over (text on SQLite), skipping the generic
    per-value conversion, which dominates reading tens of thousands of rows."""
    return type_coerce(column, String)


def _utc(value: str | datetime | None) -> datetime | None:
    """A time read through `_raw` as an aware UTC datetime (stored as naive UTC)."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite: naive UTC text; parsing it with its offset is cheapest
        return datetime.fromisoformat(value + "+00:00")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _stop(row: Any) -> StopRecord:
    return StopRecord(
        id=row.id,
        system=row.system,
        kind=row.kind,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        state=row.state,
        # The request leaves `requested` when its holder confirms; a finished run moves
        # `updated_at` on to the end of the action, which the timeouts keep short.
        confirmed_at=row.updated_at if row.state in CONFIRMED_STATES else None,
        reason=row.reason,
    )


def _digest(row: Any) -> DigestRecord:
    return DigestRecord(
        system=row.system,
        sent_at=row.sent_at,
        decision=row.decision,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        reason=row.reason,
    )


class GovernanceRepository(SessionRepository):
    """Reads and writes for scorecards, digests and reviews on one session (`tx.governance`
    once the transaction holds it)."""

    def _json_text(self, column: Any, key: str) -> Any:
        """A top-level string of a JSON text column, extracted by the database."""
        if self.dialect == "postgresql":
            return cast_(column, JSON)[key].as_string()
        return func.json_extract(column, f"$.{key}")

    def _per_alert(self, *, since: datetime, until: datetime) -> tuple[list[Any], list[Any]]:
        """First sent step, steps sent, hand-offs and first holder of each alert. SQLite
        answers correlated look-ups by index (it would rescan a joined aggregate per alert);
        PostgreSQL hash-joins aggregates once (its correlated sub-plans can rescan)."""
        sent = (S.sent_at.is_not(None),)
        claim = (T.action.in_(CLAIMED),)
        handed = (T.action == HANDED_OFF,)
        if self.dialect != "postgresql":
            return [
                select(func.min(S.sent_at)).where(S.alert_id == A.id, *sent).scalar_subquery(),
                select(func.count()).where(S.alert_id == A.id, *sent).scalar_subquery(),
                select(func.count()).where(T.alert_id == A.id, *handed).scalar_subquery(),
                # Each alert is claimed once; its first holder is in that entry's detail.
                select(self._json_text(T.detail, "holder"))
                .where(T.alert_id == A.id, *claim)
                .limit(1)
                .scalar_subquery(),
            ], []
        span = (T.at >= since - REWORK_WINDOW, T.at < until)
        step_sq = (
            select(S.alert_id, func.min(S.sent_at).label("first"), func.count().label("n"))
            .where(*sent)
            .group_by(S.alert_id)
            .subquery()
        )
        hand_sq = (
            select(T.alert_id, func.count().label("n"))
            .where(*handed, *span)
            .group_by(T.alert_id)
            .subquery()
        )
        claim_sq = (
            select(T.alert_id, func.min(self._json_text(T.detail, "holder")).label("holder"))
            .where(*claim, *span)
            .group_by(T.alert_id)
            .subquery()
        )
        columns = [step_sq.c.first, step_sq.c.n, hand_sq.c.n, claim_sq.c.holder]
        return columns, [step_sq, hand_sq, claim_sq]

    async def scorecard_record(
        self, *, since: datetime, until: datetime, systems: Collection[str] | None = None
    ) -> Record:
        """Everything bot.scorecard.scorecards reads for periods within [since, until), in
        five queries whatever the number of alerts: alerts opened before `until` that were
        open or resolved after `since - 24 h` (rework looks back a day), their
        acknowledgements, first sent steps, first holders and hand-offs; stop requests and
        steward digests of the span. `systems` narrows it (unowned alerts always come, for
        the channels they share). `stale_roles` is left empty for the caller to fill."""
        window = [
            A.opened_at < until,
            or_(A.resolved_at.is_(None), A.resolved_at >= since - REWORK_WINDOW),
        ]
        if systems is not None:
            window.append(or_(A.system.in_(list(systems)), A.system.is_(None)))
        (first_step, steps, hand_offs, first_holder), joins = self._per_alert(
            since=since, until=until
        )
        joined = ALERT.outerjoin(ACK, K.alert_id == A.id)
        for sub in joins:
            joined = joined.outerjoin(sub, sub.c.alert_id == A.id)
        query = (
            select(
                A.id,
                A.system,
                A.platform,
                A.channel,
                A.fingerprint,
                _raw(A.opened_at).label("opened_at"),
                A.holder,
                A.resolved_by,
                _raw(A.resolved_at).label("resolved_at"),
                A.repeats,
                K.person.label("ack_person"),
                _raw(K.at).label("ack_at"),
                _raw(first_step).label("first"),
                func.coalesce(steps, 0).label("steps"),
                func.coalesce(hand_offs, 0).label("hand_offs"),
                first_holder.label("first_holder"),
            )
            .select_from(joined)
            .where(*window)
        )
        alerts = [
            AlertRecord(
                id_,
                system,
                f"{platform}:{channel}",
                fingerprint,
                _utc(opened_at),  # type: ignore[arg-type]
                # Alerts older than the claim log (none today) fall back to their holder.
                first if first is not None or system is None else holder,
                ack_by,
                _utc(ack_at),
                resolved_by,
                _utc(resolved_at),
                _utc(first_step_at),
                sent,
                handed,
                repeats,
            )
            for (
                id_, system, platform, channel, fingerprint, opened_at, holder, resolved_by,
                resolved_at, repeats, ack_by, ack_at, first_step_at, sent, handed, first,
            ) in await self.session.execute(query)
        ]  # fmt: skip
        stop_query = select(STOP).where(R.requested_at >= since, R.requested_at < until)
        digest_query = select(DIGEST).where(G.sent_at >= since, G.sent_at < until)
        if systems is not None:
            stop_query = stop_query.where(R.system.in_(list(systems)))
            digest_query = digest_query.where(G.system.in_(list(systems)))
        stops = [_stop(r) for r in await self.session.execute(stop_query.order_by(R.id))]
        digests = [_digest(r) for r in await self.session.execute(digest_query.order_by(G.id))]
        return Record(alerts=alerts, stops=stops, digests=digests)

    # ---- steward digests and decisions ------------------------------------------------------

    async def add_digest(
        self, *, system: str, period: str, steward: str, at: datetime, platform: str | None = None
    ) -> int | None:
        """Record that a system's digest for `period` goes out; None when a digest for that
        system and period is already recorded (another replica sent it)."""
        stmt = (
            dialect_insert(self.session, DIGEST)
            .values(
                system=system,
                period=period,
                steward=steward,
                sent_at=at,
                platform=platform,
                reason="",
            )
            .on_conflict_do_nothing(index_elements=["system", "period"])
            .returning(G.id)
        )
        return cast(int | None, (await self.session.execute(stmt)).scalar_one_or_none())

    async def latest_digest(self, *, system: str) -> DigestRecord | None:
        """The system's latest digest and its decision, if any."""
        row = (
            await self.session.execute(
                select(DIGEST).where(G.system == system).order_by(G.id.desc()).limit(1)
            )
        ).first()
        return _digest(row) if row else None

    async def decide(
        self, *, system: str, decision: str, by: str, at: datetime, reason: str = ""
    ) -> DigestRecord | None:
        """Record the steward's decision on the system's latest digest, once; None when there
        is no digest or it was already decided."""
        latest = select(func.max(G.id)).where(G.system == system).scalar_subquery()
        result = await self.session.execute(
            update(DIGEST)
            .where(G.id == latest, G.decision.is_(None))
            .values(decision=decision, decided_by=by, decided_at=at, reason=reason[:500])
            .returning(*DIGEST.c)
        )
        row = result.first()
        return _digest(row) if row else None

    async def undecided_digests(self, *, sent_before: datetime) -> list[tuple[int, DigestRecord]]:
        """Digests sent before `sent_before`, still undecided and not yet escalated."""
        rows = await self.session.execute(
            select(DIGEST)
            .where(G.decision.is_(None), G.escalated_at.is_(None), G.sent_at < sent_before)
            .order_by(G.id)
        )
        return [(r.id, _digest(r)) for r in rows]

    async def mark_digest_escalated(self, *, digest_id: int, to: str, at: datetime) -> bool:
        """Note that an undecided digest went to the higher authority; False if already done."""
        result = await self.session.execute(
            update(DIGEST)
            .where(G.id == digest_id, G.escalated_at.is_(None), G.decision.is_(None))
            .values(escalated_at=at, escalated_to=to)
        )
        return bool(changed(result))

    # ---- delivery of digests: "sending" is the lease, NULL is "to be retried" ------------------

    async def unsent_digests(self) -> list[tuple[str, str, str]]:
        """(system, period, steward) of digests not delivered yet, still undecided and not
        escalated: what a passing platform failure left to retry."""
        rows = await self.session.execute(
            select(G.system, G.period, G.steward)
            .where(G.platform.is_(None), G.decision.is_(None), G.escalated_at.is_(None))
            .order_by(G.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def mark_digests(
        self, *, systems: Collection[str], period: str, platform: str | None, was: str | None
    ) -> list[str]:
        """Move the digests of `systems` for `period` from delivery state `was` to `platform`
        (None: to be retried); the systems moved (a conditional update: one mover wins)."""
        state = G.platform.is_(None) if was is None else G.platform == was
        result = await self.session.execute(
            update(DIGEST)
            .where(G.system.in_(list(systems)), G.period == period, state)
            .values(platform=platform)
            .returning(G.system)
        )
        return [r[0] for r in result]
