"""Escalation steps copied onto alerts, leased to one worker at a time."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update

from bot.domain import AlertState, DueStep, PlannedStep, StepState
from bot.storage import StepView
from store.sql import SessionRepository, table
from store.tables import AlertRow, EscalationStepRow

STEPS = table(EscalationStepRow)
ALERTS = table(AlertRow)
step = STEPS.c
alert = ALERTS.c


class SqlSteps(SessionRepository):
    """Implements bot.storage.Steps."""

    async def add(self, *, alert_id: int, steps: Sequence[PlannedStep]) -> None:
        """Copy an escalation map onto an alert."""
        await self.add_many(steps={alert_id: steps})

    async def add_many(self, *, steps: Mapping[int, Sequence[PlannedStep]]) -> None:
        """Copy escalation maps onto several alerts (by alert id) in one statement."""
        rows = [
            {
                "alert_id": alert_id,
                "position": s.position,
                "person": s.person,
                "label": s.label,
                "due_at": s.due_at,
                "state": StepState.PENDING.value,
            }
            for alert_id, planned in steps.items()
            for s in planned
        ]
        if rows:
            await self.session.execute(insert(STEPS), rows)

    async def of_alert(self, *, alert_id: int) -> list[StepView]:
        """The alert's copied escalation steps, in order."""
        rows = await self.session.execute(
            select(step.position, step.person, step.label, step.due_at, step.state)
            .where(step.alert_id == alert_id)
            .order_by(step.position)
        )
        return [StepView(r.position, r.person, r.label, r.due_at, StepState(r.state)) for r in rows]

    async def take_due(
        self, *, now: datetime, lease: timedelta, worker: str, limit: int
    ) -> list[DueStep]:
        """Lease due pending steps of open alerts, skipping rows other replicas have locked."""
        query = (
            select(step.id)
            .join(ALERTS, alert.id == step.alert_id)
            .where(
                step.state == StepState.PENDING.value,
                step.due_at <= now,
                alert.state == AlertState.OPEN.value,
                or_(step.lease_until.is_(None), step.lease_until < now),
            )
            .order_by(step.due_at, step.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(of=STEPS, skip_locked=True)
        ids = list((await self.session.execute(query)).scalars())
        if not ids:
            return []
        token = f"{worker}:{uuid.uuid4().hex[:16]}"
        await self.session.execute(
            update(STEPS).where(step.id.in_(ids)).values(lease_token=token, lease_until=now + lease)
        )
        rows = await self.session.execute(
            select(
                step.id,
                step.alert_id,
                step.position,
                step.person,
                step.label,
                step.due_at,
                step.message_id,
            )
            .where(step.id.in_(ids))
            .order_by(step.due_at, step.id)
        )
        return [
            DueStep(r.id, r.alert_id, r.position, r.person, r.label, r.due_at, token, r.message_id)
            for r in rows
        ]

    async def finish(
        self, *, finished: Sequence[tuple[DueStep, str | None]], at: datetime
    ) -> set[int]:
        """Mark leased steps sent with their direct message ids; returns the ids finished
        (a step whose lease another worker took since is left to that worker)."""
        if not finished:
            return set()
        query = select(step.id, step.lease_token).where(
            step.id.in_([due.id for due, _ in finished]), step.state == StepState.PENDING.value
        )
        if self.dialect == "postgresql":
            query = query.with_for_update()
        held = {r.id: r.lease_token for r in await self.session.execute(query)}
        rows: list[dict[str, Any]] = [
            {"b_id": due.id, "b_message": message_id}
            for due, message_id in finished
            if held.get(due.id) == due.lease_token
        ]
        if rows:
            await self.session.execute(
                update(STEPS)
                .where(step.id == bindparam("b_id"))
                .values(
                    state=StepState.SENT.value,
                    sent_at=at,
                    message_id=bindparam("b_message"),
                    lease_until=None,
                ),
                rows,
            )
        return {int(r["b_id"]) for r in rows}

    async def mark_direct(self, *, marks: Sequence[tuple[DueStep, str]]) -> None:
        """Remember the direct message of steps whose lease is still held, so a worker that
        takes a step over after a crash does not send it again."""
        if marks:
            await self.session.execute(
                update(STEPS)
                .where(
                    step.id == bindparam("b_id"),
                    step.lease_token == bindparam("b_token"),
                    step.state == StepState.PENDING.value,
                )
                .values(message_id=bindparam("b_message")),
                [
                    {"b_id": due.id, "b_token": due.lease_token, "b_message": message_id}
                    for due, message_id in marks
                ],
            )
