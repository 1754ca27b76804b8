"""Incident-review storage as the core sees it (`tx.reviews`): registry versions and the
version each alert was taken under, resolve forms, follow-up actions and their chasing."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Protocol

from bot.review import FollowUp, ReviewRecord


class Reviews(Protocol):
    """Incident-review records: registry versions, resolve forms, follow-ups (store.reviews)."""

    async def review_record(self, *, alert_id: int, now: datetime) -> ReviewRecord | None:
        """One alert's record for a review; None when there is no such alert."""
        ...

    async def latest_resolved(self, *, system: str) -> int | None:
        """The id of the system's most recently resolved alert."""
        ...

    async def remember_registry(
        self, *, version: str, text: str, source: str, at: datetime
    ) -> bool:
        """Keep a loaded registry's text under its version; False when kept before."""
        ...

    async def registry_text(self, *, version: str) -> str | None:
        """The text of a kept registry version."""
        ...

    async def set_alert_versions(self, *, alert_ids: Collection[int], version: str) -> None:
        """Record the registry version alerts were taken under (first one wins)."""
        ...

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
        """Keep the resolver's answers or that they skipped; False when already answered."""
        ...

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
        ...

    async def finish_follow_up(self, *, follow_up_id: int, by: str, at: datetime) -> bool:
        """Mark an open follow-up done; False when unknown or already done."""
        ...

    async def open_follow_ups(self, *, system: str | None = None) -> list[FollowUp]:
        """Follow-ups not done yet, oldest due first."""
        ...

    async def follow_ups_to_chase(
        self, *, now: datetime, escalate_after: timedelta = ...
    ) -> tuple[list[FollowUp], list[FollowUp]]:
        """Open follow-ups past due: (to remind their owner, reminded `escalate_after` ago
        and still open: to tell the steward)."""
        ...

    async def mark_follow_up(self, *, follow_up_id: int, at: datetime, step: str) -> bool:
        """Note a reminder ("reminded") or an escalation ("escalated") once."""
        ...
