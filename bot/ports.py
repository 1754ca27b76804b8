"""The small typed interfaces through which the core reaches the world."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.cards import Card
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
    UserRef,
)
from bot.registry import CommandAction, WebhookAction


class PlatformError(Exception):
    """A chat platform refused or failed a call (after the adapter's own retries)."""


class Clock(Protocol):
    """Where the core reads the time; tests inject a clock they move by hand."""

    def now(self) -> datetime: ...


class ChatPlatform(Protocol):
    """One chat platform as the core sees it. Adapters pace and retry (HTTP 429) themselves."""

    name: str

    async def post(self, *, channel: str, card: Card, thread: str | None = None) -> MessageRef:
        """Post a card in a channel, or as a reply in `thread`."""
        ...

    async def update(self, *, message: MessageRef, card: Card) -> None:
        """Replace a message the bot posted."""
        ...

    async def direct(self, *, user: UserRef, card: Card) -> MessageRef:
        """Send a card to one person directly; PlatformError when they cannot be reached."""
        ...

    async def find_user(self, *, email: str) -> UserRef | None:
        """The platform user with this email, or None."""
        ...

    async def user_email(self, *, user: UserRef) -> str | None:
        """The email of a platform user, or None when the platform does not say."""
        ...

    async def user_active(self, *, user: UserRef) -> bool | None:
        """False when the platform says the user is deactivated; None when it cannot tell."""
        ...


class Observer(Protocol):
    """Receives what the service did, for metrics. Must not raise or block."""

    def alert_taken(self, *, system: str | None, outcome: str) -> None:
        """An inbound alert was claimed, counted as a repeat, resolved, or ignored."""
        ...

    def escalation_sent(self) -> None:
        """One escalation step was sent."""
        ...

    def acknowledged(self, *, seconds: float) -> None:
        """An alert was acknowledged this long after it opened."""
        ...

    def stop_ran(self, *, kind: str, ok: bool) -> None:
        """A stop or resume action ran."""
        ...


class NoObserver:
    """An Observer that ignores everything."""

    def alert_taken(self, *, system: str | None, outcome: str) -> None:
        """Ignore."""

    def escalation_sent(self) -> None:
        """Ignore."""

    def acknowledged(self, *, seconds: float) -> None:
        """Ignore."""

    def stop_ran(self, *, kind: str, ok: bool) -> None:
        """Ignore."""


@dataclass(frozen=True)
class ActionResult:
    """What a stop or resume action did."""

    ok: bool
    summary: str


class StopRunner(Protocol):
    """Runs a system's configured stop or resume action."""

    async def run(
        self, *, action: WebhookAction | CommandAction, payload: dict[str, object]
    ) -> ActionResult:
        """Run the action; never raises for the action's own failure, reports it instead."""
        ...


@dataclass(frozen=True)
class StepView:
    """A copied escalation step and its state, for rendering."""

    position: int
    person: str
    label: str
    due_at: datetime
    state: StepState


class Repository(Protocol):
    """Storage as the core sees it. Nothing here commits: the Store's transaction does."""

    async def remember_event(self, *, key: str, at: datetime) -> bool:
        """Record an inbound event id; False when it was seen before."""
        ...

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
        ...

    async def count_repeat(self, *, open_key: str) -> Alert | None:
        """Count one more delivery on the open alert with this key and return it."""
        ...

    async def open_alert(self, *, open_key: str) -> Alert | None:
        """The open (not resolved) alert with this key, if any."""
        ...

    async def get_alert(self, *, alert_id: int) -> Alert | None:
        """One alert by id."""
        ...

    async def get_alerts(self, *, alert_ids: Collection[int]) -> dict[int, Alert]:
        """Several alerts by id, in one query."""
        ...

    async def open_alerts(self, *, system: str | None = None) -> list[Alert]:
        """Alerts not yet resolved, oldest first, optionally for one system."""
        ...

    async def add_steps(self, *, alert_id: int, steps: Sequence[PlannedStep]) -> None:
        """Copy an escalation map onto an alert."""
        ...

    async def steps(self, *, alert_id: int) -> list[StepView]:
        """The alert's copied escalation steps, in order."""
        ...

    async def take_claim_post(self, *, alert_id: int, now: datetime, lease: timedelta) -> bool:
        """Lease the right to post this alert's claim; False if posted or leased elsewhere."""
        ...

    async def unposted_claims(self, *, now: datetime, limit: int) -> list[int]:
        """Ids of alerts whose claim was never posted and whose posting lease has lapsed."""
        ...

    async def set_claim(
        self, *, alert_id: int, message: MessageRef, combined: bool = False
    ) -> bool:
        """Remember where the claim message lives (a storm board when `combined`); False
        when another worker's claim message was recorded first."""
        ...

    async def alerts_on_claim(self, *, message: MessageRef) -> list[Alert]:
        """Every alert whose claim is this message (one, or a storm board's many)."""
        ...

    async def change_state(
        self,
        *,
        alert_id: int,
        to: AlertState,
        person: str,
        at: datetime,
        allowed_from: Sequence[AlertState],
    ) -> Alert | None:
        """Move an alert to `to` only if it is in `allowed_from` (one winner among racing
        clicks); cancels pending escalation steps. None when the move did not happen."""
        ...

    async def hand_off(self, *, alert_id: int, to: str, at: datetime) -> Alert | None:
        """Give an unresolved alert to another person; None if it is resolved."""
        ...

    async def take_due_steps(
        self, *, now: datetime, lease: timedelta, worker: str, limit: int
    ) -> list[DueStep]:
        """Lease due pending steps of open alerts (SKIP LOCKED where the database has it)."""
        ...

    async def finish_steps(
        self, *, finished: Sequence[tuple[DueStep, str | None]], at: datetime
    ) -> set[int]:
        """Mark leased steps sent with their direct message ids; returns the ids finished
        (a step whose lease another worker took since is left to that worker)."""
        ...

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
        ...

    async def get_stop_request(self, *, request_id: int) -> StopRequest | None:
        """One stop request by id."""
        ...

    async def move_stop_request(
        self, *, request_id: int, from_state: str, to_state: str, at: datetime, result: str = ""
    ) -> bool:
        """Conditional state change; False when another click got there first."""
        ...

    async def stop_requests(self, *, state: str, before: datetime) -> list[StopRequest]:
        """Stop requests in `state` since before `before` (for expiry sweeps)."""
        ...

    async def forget_events_before(self, *, before: datetime) -> int:
        """Drop delivery ids older than any platform retries; how many went."""
        ...

    async def set_system_status(self, *, system: str, stopped: bool, at: datetime, by: str) -> None:
        """Record that a system was stopped or resumed."""
        ...

    async def system_status(self, *, system: str) -> SystemStatus:
        """Whether a system is stopped."""
        ...

    async def record_confirmation(
        self, *, system: str, role: str, person: str, at: datetime
    ) -> None:
        """A role holder said "still mine"."""
        ...

    async def confirmations(self, *, system: str) -> dict[str, tuple[str, datetime]]:
        """Role -> (person, when) of the latest confirmation of each role."""
        ...

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
        """Append a hash-chained evidence entry."""
        ...

    async def append_audits(self, *, entries: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append several entries in order, in one round trip."""
        ...

    async def audit_entries(self, *, system: str | None = None) -> list[AuditEntry]:
        """Evidence in order, optionally for one system."""
        ...

    # ---- schedules, stale ownership, replicas (issue 5) ----

    async def claim_run(self, *, job: str, period: str, worker: str, at: datetime) -> bool:
        """Record that `worker` runs `job` for `period`; False when a replica already did."""
        ...

    async def finish_run(self, *, job: str, period: str, at: datetime, summary: str) -> None:
        """Record when and how a claimed run ended."""
        ...

    async def last_run(self, *, job: str, excluding: str | None = None) -> datetime | None:
        """When the latest run of `job` started, leaving out the period `excluding`."""
        ...

    async def unowned_alerts(self, *, since: datetime | None) -> list[Alert]:
        """Alerts no system matched, opened at or after `since` (all when None), oldest first."""
        ...

    async def open_alert_counts(self) -> dict[str | None, int]:
        """Unresolved alerts per system (None: unowned)."""
        ...

    async def mark_steps_direct(self, *, marks: Sequence[tuple[DueStep, str]]) -> None:
        """Remember the direct message of steps whose lease is still held, so a worker that
        takes a step over after a crash does not send it again."""
        ...


class Store(Protocol):
    """A source of transactions; the service decides where each one begins and ends."""

    def transaction(self) -> AbstractAsyncContextManager[Repository]:
        """Open a transaction; it commits when the block ends without an exception."""
        ...
