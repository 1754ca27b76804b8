"""Escalation maps copied onto alerts, and the next step still to come. Pure functions of time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain import PlannedStep, StepState
from bot.ports import StepView
from bot.registry import SystemView


def plan_steps(system: SystemView, *, opened_at: datetime) -> list[PlannedStep]:
    """Snapshot the system's map so later registry edits do not change a running escalation."""
    return [
        PlannedStep(position=i, person=e.person, label=e.label, due_at=opened_at + e.after)
        for i, e in enumerate(system.escalation, start=1)
    ]


def next_step(steps: Sequence[StepView]) -> StepView | None:
    """The earliest step not yet sent or cancelled."""
    pending = [s for s in steps if s.state == StepState.PENDING]
    return min(pending, key=lambda s: s.due_at) if pending else None
