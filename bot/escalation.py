"""Escalation maps copied onto alerts when they open: later registry edits do not change a
running escalation."""

from __future__ import annotations

from datetime import datetime

from bot.domain import PlannedStep
from bot.registry import SystemView


def plan_steps(system: SystemView, *, opened_at: datetime) -> list[PlannedStep]:
    """Snapshot the system's map so later registry edits do not change a running escalation."""
    return [
        PlannedStep(position=i, person=e.person, label=e.label, due_at=opened_at + e.after)
        for i, e in enumerate(system.escalation, start=1)
    ]
