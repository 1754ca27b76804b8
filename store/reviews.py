"""Incident-review storage: registry versions and the version each alert was taken under,
resolve-form answers, follow-up actions, and the read that gathers one alert's record."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from bot.domain import AlertState
from bot.review import FollowUp, ResolveForm, ReviewRecord, TimelineEntry
from store.alerts import SqlAlerts
from store.sql import SessionRepository, changed, dialect_insert, table
from store.tables import (
    AlertRow,
    AlertVersionRow,
    AuditRow,
    FollowUpRow,
    RegistryVersionRow,
    ResolveFormRow,
)

ALERT = table(AlertRow)
AUDIT = table(AuditRow)
VERSION = table(RegistryVersionRow)
ALERT_VERSION = table(AlertVersionRow)
FORM = table(ResolveFormRow)
FOLLOW_UP = table(FollowUpRow)
A, T, F = ALERT.c, AUDIT.c, FOLLOW_UP.c
SYSTEM_ACTIONS = ("stop.%", "resume.%")  # a system's stops belong to its open alerts' stories


def _follow_up(row: Any) -> FollowUp:
    return FollowUp(
        id=row.id,
        action=row.action,
        owner=row.owner,
        due_at=row.due_at,
        created_by=row.created_by,
        created_at=row.created_at,
        done_at=row.done_at,
        done_by=row.done_by,
        alert_id=row.alert_id,
        system=row.system,
    )


def _aware(at: datetime) -> datetime:
    """A stored time (naive UTC on SQLite) as an aware UTC datetime."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _detail(text: str) -> dict[str, object]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


class SqlReviews(SessionRepository):
    """Reads and writes for incident reviews on one session (`tx.reviews` once wired)."""

    async def review_record(self, *, alert_id: int, now: datetime) -> ReviewRecord | None:
        """One alert's record in five queries: the alert, its evidence entries and its
        system's stops while it was open (until `now` if it still is), its resolve form,
        its follow-ups and the registry version it was taken under. None: no such alert."""
        alert = await SqlAlerts(self.session).get(alert_id=alert_id)
        if alert is None:
            return None
        conditions: list[Any] = [T.alert_id == alert_id]
        if alert.system is not None:
            conditions.append(
                (T.system == alert.system)
                & T.alert_id.is_(None)
                & or_(*(T.action.like(p) for p in SYSTEM_ACTIONS))
                & (T.at >= alert.opened_at)
                & (T.at <= (alert.resolved_at or now))
            )
        timeline = tuple(
            TimelineEntry(r.seq, r.at, r.actor, r.action, _detail(r.detail))
            for r in await self.session.execute(
                select(AUDIT).where(or_(*conditions)).order_by(T.seq)
            )
        )
        form_row = (
            await self.session.execute(select(FORM).where(FORM.c.alert_id == alert_id))
        ).first()
        form = (
            ResolveForm(
                by=form_row.by,
                at=form_row.at,
                skipped=form_row.skipped,
                failure_class=form_row.failure_class,
                why_passed=form_row.why_passed,
            )
            if form_row
            else None
        )
        follow_ups = tuple(
            _follow_up(r)
            for r in await self.session.execute(
                select(FOLLOW_UP).where(F.alert_id == alert_id).order_by(F.id)
            )
        )
        version = (
            await self.session.execute(
                select(ALERT_VERSION.c.version).where(ALERT_VERSION.c.alert_id == alert_id)
            )
        ).scalar_one_or_none()
        return ReviewRecord(
            alert=alert, timeline=timeline, form=form, follow_ups=follow_ups, version=version
        )

    async def latest_resolved(self, *, system: str) -> int | None:
        """The id of the system's most recently resolved alert (what `/review <system>` shows)."""
        return (
            await self.session.execute(
                select(A.id)
                .where(A.system == system, A.state == AlertState.RESOLVED.value)
                .order_by(A.resolved_at.desc(), A.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    # ---- registry versions -------------------------------------------------------------------

    async def remember_registry(
        self, *, version: str, text: str, source: str, at: datetime
    ) -> bool:
        """Keep a loaded registry's text under its sha256; False when it was kept before."""
        stmt = (
            dialect_insert(self.session, VERSION)
            .values(version=version, text=text, source=source[:1000], loaded_at=at)
            .on_conflict_do_nothing(index_elements=["version"])
            .returning(VERSION.c.version)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def registry_text(self, *, version: str) -> str | None:
        """The text of a kept registry version."""
        return (
            await self.session.execute(select(VERSION.c.text).where(VERSION.c.version == version))
        ).scalar_one_or_none()

    async def set_alert_versions(self, *, alert_ids: Collection[int], version: str) -> None:
        """Record the registry version alerts were taken under (once each; first one wins)."""
        if not alert_ids:
            return
        stmt = (
            dialect_insert(self.session, ALERT_VERSION)
            .values([{"alert_id": i, "version": version} for i in alert_ids])
            .on_conflict_do_nothing(index_elements=["alert_id"])
        )
        await self.session.execute(stmt)

    # ---- resolve form and follow-ups ---------------------------------------------------------

    async def record_form(
        self,
        *,
        alert_id: int,
        by: str,
        at: datetime,
        skipped: bool,
        failure_class: str | None = None,
        why_passed: str = "",
    ) -> bool:
        """Keep the resolver's answers (or that they skipped); False when already answered."""
        stmt = (
            dialect_insert(self.session, FORM)
            .values(
                alert_id=alert_id,
                by=by,
                at=at,
                skipped=skipped,
                failure_class=None if skipped else failure_class,
                why_passed="" if skipped else why_passed[:500],
            )
            .on_conflict_do_nothing(index_elements=["alert_id"])
            .returning(FORM.c.alert_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def add_follow_up(
        self,
        *,
        action: str,
        owner: str,
        due_at: datetime,
        created_by: str,
        at: datetime,
        alert_id: int | None = None,
        system: str | None = None,
    ) -> FollowUp:
        """A new follow-up action."""
        row = (
            await self.session.execute(
                dialect_insert(self.session, FOLLOW_UP)
                .values(
                    action=action[:500],
                    owner=owner,
                    due_at=due_at,
                    created_by=created_by,
                    created_at=at,
                    alert_id=alert_id,
                    system=system,
                )
                .returning(*FOLLOW_UP.c)
            )
        ).one()
        return _follow_up(row)

    async def finish_follow_up(self, *, follow_up_id: int, by: str, at: datetime) -> bool:
        """Mark an open follow-up done; False when it is unknown or already done."""
        result = await self.session.execute(
            update(FOLLOW_UP)
            .where(F.id == follow_up_id, F.done_at.is_(None))
            .values(done_at=at, done_by=by)
        )
        return bool(changed(result))

    async def open_follow_ups(self, *, system: str | None = None) -> list[FollowUp]:
        """Follow-ups not done yet (of one system, or all), oldest due first."""
        query = select(FOLLOW_UP).where(F.done_at.is_(None))
        if system is not None:
            query = query.where(F.system == system)
        return [_follow_up(r) for r in await self.session.execute(query.order_by(F.due_at, F.id))]

    async def follow_ups_to_chase(
        self, *, now: datetime, escalate_after: timedelta = timedelta(0)
    ) -> tuple[list[FollowUp], list[FollowUp]]:
        """Open follow-ups past due: (never reminded: remind the owner, reminded at least
        `escalate_after` ago but not escalated: tell the steward)."""
        rows = await self.session.execute(
            select(FOLLOW_UP)
            .where(F.done_at.is_(None), F.due_at <= now, F.escalated_at.is_(None))
            .order_by(F.due_at, F.id)
        )
        remind: list[FollowUp] = []
        escalate: list[FollowUp] = []
        for r in rows:
            if r.reminded_at is None:
                remind.append(_follow_up(r))
            elif _aware(r.reminded_at) <= now - escalate_after:
                escalate.append(_follow_up(r))
        return remind, escalate

    async def mark_follow_up(self, *, follow_up_id: int, at: datetime, step: str) -> bool:
        """Note a reminder (`step="reminded"`) or an escalation (`"escalated"`) once."""
        column = F.reminded_at if step == "reminded" else F.escalated_at
        result = await self.session.execute(
            update(FOLLOW_UP).where(F.id == follow_up_id, column.is_(None)).values({column.key: at})
        )
        return bool(changed(result))
