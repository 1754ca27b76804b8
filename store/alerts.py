"""Alerts and their claims: the alert aggregate (alert row, claim message, acknowledgement),
and the delivery ids that make a platform's retry count once."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update

from bot.domain import Alert, AlertState, MessageRef, StepState
from bot.storage import NewAlert
from store.alert_rows import (
    ACKNOWLEDGEMENTS,
    ALERTS,
    CLAIMS,
    SEEN,
    STEPS,
    alert,
    alert_query,
    claim,
    to_alert,
)
from store.sql import SessionRepository, changed, dialect_insert


class SqlAlerts(SessionRepository):
    """Implements bot.storage.Alerts."""

    async def remember_event(self, *, key: str, at: datetime) -> bool:
        """Record an inbound event id; False when it was seen before."""
        stmt = (
            dialect_insert(self.session, SEEN)
            .values(key=key, at=at)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(SEEN.c.key)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def remember_events(self, *, keys: Sequence[str], at: datetime) -> set[str]:
        """Record inbound event ids in one statement; the ones not seen before."""
        if not keys:
            return set()
        stmt = (
            dialect_insert(self.session, SEEN)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(SEEN.c.key)
        )
        rows = await self.session.execute(stmt, [{"key": k, "at": at} for k in dict.fromkeys(keys)])
        return {key for (key,) in rows}

    async def add_many(
        self, *, alerts: Sequence[NewAlert], claim_lease_until: datetime | None
    ) -> dict[str, Alert]:
        """Open alerts (distinct open keys) with multi-row statements; the ones opened, by
        open key (the others already have an open alert)."""
        if not alerts:
            return {}
        stmt = (
            dialect_insert(self.session, ALERTS)
            .on_conflict_do_nothing(index_elements=["open_key"])
            .returning(alert.id, alert.open_key)
        )
        rows = [
            {
                "platform": a.platform,
                "channel": a.channel,
                "system": a.system,
                "fingerprint": a.fingerprint,
                "open_key": a.open_key,
                "title": a.title[:300],
                "text": a.text,
                "state": AlertState.OPEN.value,
                "holder": a.holder,
                "held_since": a.opened_at,
                "opened_at": a.opened_at,
                "link": a.link,
                "source_channel": a.source.channel if a.source else None,
                "source_id": a.source.id if a.source else None,
                "source_thread": a.source.thread if a.source else None,
                "repeats": 0,
                "integration": a.integration,
            }
            for a in alerts
        ]
        ids = {key: alert_id for alert_id, key in await self.session.execute(stmt, rows)}
        if not ids:
            return {}
        await self.session.execute(
            insert(CLAIMS),
            [{"alert_id": i, "lease_until": claim_lease_until} for i in ids.values()],
        )
        return {  # what was just written: no need to read it back
            a.open_key: Alert(
                id=ids[a.open_key],
                platform=a.platform,
                channel=a.channel,
                system=a.system,
                fingerprint=a.fingerprint,
                title=a.title[:300],
                text=a.text,
                state=AlertState.OPEN,
                holder=a.holder,
                opened_at=a.opened_at,
                link=a.link,
                source=a.source,
                held_since=a.opened_at,
                integration=a.integration,
            )
            for a in alerts
            if a.open_key in ids
        }

    async def count_repeats(self, *, counts: Mapping[str, int]) -> dict[str, Alert]:
        """Count further deliveries on the open alerts with these keys; those alerts by key
        (a key missing from the answer has no open alert any more)."""
        if not counts:
            return {}
        await self.session.execute(
            update(ALERTS)
            .where(alert.open_key == bindparam("key"))
            .values(repeats=alert.repeats + bindparam("more")),
            [{"key": key, "more": more} for key, more in counts.items()],
        )
        rows = await self.session.execute(alert_query().where(alert.open_key.in_(list(counts))))
        return {r.open_key: to_alert(r) for r in rows}

    async def add(
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
        integration: str | None = None,
    ) -> Alert | None:
        """Store a new open alert; None when an open alert already has this `open_key`.
        `claim_lease_until` reserves posting the claim for the caller until then."""
        new = NewAlert(
            platform, channel, system, fingerprint, open_key, title, text, holder, opened_at,
            link, source, integration,
        )  # fmt: skip
        opened = await self.add_many(alerts=[new], claim_lease_until=claim_lease_until)
        return opened.get(open_key)

    async def count_repeat(self, *, open_key: str) -> Alert | None:
        """Count one more delivery on the open alert with this key and return it."""
        return (await self.count_repeats(counts={open_key: 1})).get(open_key)

    async def get_many(self, *, alert_ids: Collection[int]) -> dict[int, Alert]:
        """Several alerts by id, in one query."""
        if not alert_ids:
            return {}
        rows = await self.session.execute(alert_query().where(alert.id.in_(list(alert_ids))))
        return {r.id: to_alert(r) for r in rows}

    async def open_with_key(self, *, open_key: str) -> Alert | None:
        """The open (not resolved) alert with this key, if any."""
        row = (await self.session.execute(alert_query().where(alert.open_key == open_key))).first()
        return to_alert(row) if row else None

    async def get(self, *, alert_id: int) -> Alert | None:
        """One alert by id."""
        row = (await self.session.execute(alert_query().where(alert.id == alert_id))).first()
        return to_alert(row) if row else None

    async def unresolved(self, *, system: str | None = None) -> list[Alert]:
        """Alerts not yet resolved, oldest first, optionally for one system."""
        query = alert_query().where(alert.state != AlertState.RESOLVED.value)
        if system is not None:
            query = query.where(alert.system == system)
        rows = await self.session.execute(query.order_by(alert.id))
        return [to_alert(r) for r in rows]

    async def take_claim_post(self, *, alert_id: int, now: datetime, lease: timedelta) -> bool:
        """Lease the right to post this alert's claim; False if posted or leased elsewhere."""
        result = await self.session.execute(
            update(CLAIMS)
            .where(
                claim.alert_id == alert_id,
                claim.message_id.is_(None),
                or_(claim.lease_until.is_(None), claim.lease_until < now),
            )
            .values(lease_until=now + lease)
        )
        return changed(result) > 0

    async def unposted_claims(self, *, now: datetime, limit: int) -> list[int]:
        """Ids of alerts whose claim was never posted and whose posting lease has lapsed."""
        rows = await self.session.execute(
            select(claim.alert_id)
            .join(ALERTS, alert.id == claim.alert_id)
            .where(
                claim.message_id.is_(None),
                claim.lease_until.is_not(None),
                claim.lease_until < now,
                alert.state != AlertState.RESOLVED.value,
            )
            .order_by(claim.alert_id)
            .limit(limit)
        )
        return [r.alert_id for r in rows]

    async def set_claim(
        self, *, alert_id: int, message: MessageRef, combined: bool = False
    ) -> bool:
        """Remember where the claim message lives (a storm board when `combined`); False
        when another worker's claim message was recorded first."""
        recorded = await self.set_claims(alert_ids=[alert_id], message=message, combined=combined)
        return bool(recorded)

    async def set_claims(
        self, *, alert_ids: Collection[int], message: MessageRef, combined: bool
    ) -> set[int]:
        """Put several alerts' claims on one message (a storm board) in one statement; the
        ids recorded (the others' claims were recorded elsewhere first)."""
        if not alert_ids:
            return set()
        result = await self.session.execute(
            update(CLAIMS)
            .where(claim.alert_id.in_(list(alert_ids)), claim.message_id.is_(None))
            .values(
                channel=message.channel,
                message_id=message.id,
                thread=message.thread,
                combined=combined,
                posted_at=func.now(),
                lease_until=None,
            )
            .returning(claim.alert_id)
        )
        return {alert_id for (alert_id,) in result}

    async def on_claim(self, *, message: MessageRef) -> list[Alert]:
        """Every alert whose claim is this message (one, or a storm board's many)."""
        rows = await self.session.execute(
            alert_query()
            .where(claim.message_id == message.id, claim.channel == message.channel)
            .order_by(alert.id)
        )
        return [to_alert(r) for r in rows]

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
            update(ALERTS)
            .where(alert.id == alert_id, alert.state.in_([s.value for s in allowed_from]))
            .values(**values)
        )
        if not changed(result):
            return None
        if to == AlertState.ACKNOWLEDGED:
            await self.session.execute(
                insert(ACKNOWLEDGEMENTS).values(alert_id=alert_id, person=person, at=at)
            )
        await self.session.execute(
            update(STEPS)
            .where(STEPS.c.alert_id == alert_id, STEPS.c.state == StepState.PENDING.value)
            .values(state=StepState.CANCELLED.value, lease_token=None, lease_until=None)
        )
        return await self.get(alert_id=alert_id)

    async def hand_off(self, *, alert_id: int, to: str, at: datetime) -> Alert | None:
        """Give an unresolved alert to another person; None if it is resolved."""
        result = await self.session.execute(
            update(ALERTS)
            .where(alert.id == alert_id, alert.state != AlertState.RESOLVED.value)
            .values(holder=to, held_since=at)
        )
        if not changed(result):
            return None
        return await self.get(alert_id=alert_id)

    async def unowned(self, *, since: datetime | None) -> list[Alert]:
        """Alerts no system matched, opened at or after `since` (all when None), oldest first."""
        query = alert_query().where(alert.system.is_(None))
        if since is not None:
            query = query.where(alert.opened_at >= since)
        rows = await self.session.execute(query.order_by(alert.opened_at, alert.id))
        return [to_alert(r) for r in rows]

    async def unresolved_counts(self) -> dict[str | None, int]:
        """Unresolved alerts per system (None: unowned)."""
        rows = await self.session.execute(
            select(alert.system, func.count())
            .where(alert.state != AlertState.RESOLVED.value)
            .group_by(alert.system)
        )
        return {system: int(count) for system, count in rows}

    async def forget_events_before(self, *, before: datetime) -> int:
        """Drop delivery ids older than any platform retries (housekeeping)."""
        result = await self.session.execute(delete(SEEN).where(SEEN.c.at < before))
        return changed(result)
