"""Storage as the core sees it: one small repository per aggregate, reached through a
transaction (`async with store.transaction() as tx: await tx.alerts.get(alert_id=...)`).
Nothing here commits: the Store's transaction does, when its block ends without an error."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

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
from bot.review_storage import Reviews
from bot.scorecard import DigestRecord, Record


@dataclass(frozen=True)
class StepView:
    """A copied escalation step and its state, for rendering."""

    position: int
    person: str
    label: str
    due_at: datetime
    state: StepState


@dataclass(frozen=True)
class NewAlert:
    """An alert to open, as a batch of deliveries hands it to `Alerts.add_many`."""

    platform: str
    channel: str
    system: str | None
    fingerprint: str
    open_key: str
    title: str
    text: str
    holder: str | None
    opened_at: datetime
    link: str | None
    source: MessageRef | None
    integration: str | None = None


class Alerts(Protocol):
    """Alerts with their claim messages and acknowledgements, and inbound delivery ids."""

    async def remember_events(self, *, keys: Sequence[str], at: datetime) -> set[str]:
        """Record inbound event ids in one statement; the ones not seen before."""
        ...

    async def add_many(
        self, *, alerts: Sequence[NewAlert], claim_lease_until: datetime | None
    ) -> dict[str, Alert]:
        """Open alerts (distinct open keys) with multi-row statements; the ones opened, by
        open key (the others already have an open alert)."""
        ...

    async def count_repeats(self, *, counts: Mapping[str, int]) -> dict[str, Alert]:
        """Count further deliveries on the open alerts with these keys; those alerts by key
        (a key missing from the answer has no open alert any more)."""
        ...

    async def remember_event(self, *, key: str, at: datetime) -> bool:
        """Record an inbound event id; False when it was seen before."""
        ...

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
        ...

    async def count_repeat(self, *, open_key: str) -> Alert | None:
        """Count one more delivery on the open alert with this key and return it."""
        ...

    async def get_many(self, *, alert_ids: Collection[int]) -> dict[int, Alert]:
        """Several alerts by id, in one query."""
        ...

    async def open_with_key(self, *, open_key: str) -> Alert | None:
        """The open (not resolved) alert with this key, if any."""
        ...

    async def get(self, *, alert_id: int) -> Alert | None:
        """One alert by id."""
        ...

    async def unresolved(self, *, system: str | None = None) -> list[Alert]:
        """Alerts not yet resolved, oldest first, optionally for one system."""
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

    async def set_claims(
        self, *, alert_ids: Collection[int], message: MessageRef, combined: bool
    ) -> set[int]:
        """Put several alerts' claims on one message (a storm board) in one statement; the
        ids recorded (the others' claims were recorded elsewhere first)."""
        ...

    async def on_claim(self, *, message: MessageRef) -> list[Alert]:
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

    async def unowned(self, *, since: datetime | None) -> list[Alert]:
        """Alerts no system matched, opened at or after `since` (all when None), oldest first."""
        ...

    async def unresolved_counts(self) -> dict[str | None, int]:
        """Unresolved alerts per system (None: unowned)."""
        ...

    async def forget_events_before(self, *, before: datetime) -> int:
        """Drop delivery ids older than any platform retries; how many went."""
        ...


class Steps(Protocol):
    """Escalation steps copied onto alerts, leased to one worker at a time."""

    async def add(self, *, alert_id: int, steps: Sequence[PlannedStep]) -> None:
        """Copy an escalation map onto an alert."""
        ...

    async def add_many(self, *, steps: Mapping[int, Sequence[PlannedStep]]) -> None:
        """Copy escalation maps onto several alerts (by alert id) in one statement."""
        ...

    async def of_alert(self, *, alert_id: int) -> list[StepView]:
        """The alert's copied escalation steps, in order."""
        ...

    async def take_due(
        self, *, now: datetime, lease: timedelta, worker: str, limit: int
    ) -> list[DueStep]:
        """Lease due pending steps of open alerts (SKIP LOCKED where the database has it)."""
        ...

    async def finish(
        self, *, finished: Sequence[tuple[DueStep, str | None]], at: datetime
    ) -> set[int]:
        """Mark leased steps sent with their direct message ids; returns the ids finished
        (a step whose lease another worker took since is left to that worker)."""
        ...

    async def mark_direct(self, *, marks: Sequence[tuple[DueStep, str]]) -> None:
        """Remember the direct message of steps whose lease is still held, so a worker that
        takes a step over after a crash does not send it again."""
        ...


class Stops(Protocol):
    """Stop and resume requests, and whether each system is stopped."""

    async def add_request(
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

    async def get_request(self, *, request_id: int) -> StopRequest | None:
        """One stop request by id."""
        ...

    async def requests(self, *, state: str, before: datetime) -> list[StopRequest]:
        """Stop requests in `state` since before `before` (for expiry sweeps)."""
        ...

    async def move_request(
        self, *, request_id: int, from_state: str, to_state: str, at: datetime, result: str = ""
    ) -> bool:
        """Conditional state change; False when another click got there first."""
        ...

    async def set_status(self, *, system: str, stopped: bool, at: datetime, by: str) -> None:
        """Record that a system was stopped or resumed."""
        ...

    async def status(self, *, system: str) -> SystemStatus:
        """Whether a system is stopped."""
        ...


class Ownership(Protocol):
    """Role confirmations ("still mine")."""

    async def confirm(self, *, system: str, role: str, person: str, at: datetime) -> None:
        """A role holder said "still mine"."""
        ...

    async def confirmations(self, *, system: str) -> dict[str, tuple[str, datetime]]:
        """Role -> (person, when) of the latest confirmation of each role."""
        ...


class Evidence(Protocol):
    """The hash-chained audit log."""

    async def append(
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

    async def append_many(self, *, entries: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append several entries in order, in one round trip."""
        ...

    async def entries(self, *, system: str | None = None) -> list[AuditEntry]:
        """Evidence in order, optionally for one system."""
        ...


class Jobs(Protocol):
    """Scheduled job runs, one per period across replicas."""

    async def claim_run(self, *, job: str, period: str, worker: str, at: datetime) -> bool:
        """Record that `worker` runs `job` for `period`; False when a replica already did."""
        ...

    async def finish_run(self, *, job: str, period: str, at: datetime, summary: str) -> None:
        """Record when and how a claimed run ended."""
        ...

    async def last_run(self, *, job: str, excluding: str | None = None) -> datetime | None:
        """When the latest run of `job` started, leaving out the period `excluding`."""
        ...


class Governance(Protocol):
    """Scorecard reads, steward digests and their decisions (store.governance)."""

    async def scorecard_record(
        self, *, since: datetime, until: datetime, systems: Collection[str] | None = None
    ) -> Record:
        """What bot.scorecard reads for periods within [since, until)."""
        ...

    async def add_digest(
        self, *, system: str, period: str, steward: str, at: datetime, platform: str | None = None
    ) -> int | None:
        """Record a system's digest for `period`; None when one is already recorded."""
        ...

    async def latest_digest(self, *, system: str) -> DigestRecord | None:
        """The system's latest digest and its decision, if any."""
        ...

    async def decide(
        self, *, system: str, decision: str, by: str, at: datetime, reason: str = ""
    ) -> DigestRecord | None:
        """Record a decision on the latest digest, once; None when none is open."""
        ...

    async def undecided_digests(self, *, sent_before: datetime) -> list[tuple[int, DigestRecord]]:
        """Undecided, not yet escalated digests sent before `sent_before`."""
        ...

    async def mark_digest_escalated(self, *, digest_id: int, to: str, at: datetime) -> bool:
        """Note an undecided digest went to the higher authority; False if already done."""
        ...

    async def unsent_digests(self) -> list[tuple[str, str, str]]:
        """(system, period, steward) of undecided digests still to be delivered."""
        ...

    async def mark_digests(
        self, *, systems: Collection[str], period: str, platform: str | None, was: str | None
    ) -> list[str]:
        """Move digests' delivery state from `was` to `platform`; the systems moved."""
        ...


class Transaction(Protocol):
    """One transaction: a repository per aggregate."""

    @property
    def alerts(self) -> Alerts:
        """Alerts, claims, acknowledgements, delivery ids."""
        ...

    @property
    def steps(self) -> Steps:
        """Escalation steps."""
        ...

    @property
    def stops(self) -> Stops:
        """Stop requests and system status."""
        ...

    @property
    def evidence(self) -> Evidence:
        """The audit log."""
        ...

    @property
    def ownership(self) -> Ownership:
        """Role confirmations."""
        ...

    @property
    def jobs(self) -> Jobs:
        """Scheduled job runs."""
        ...

    @property
    def governance(self) -> Governance:
        """Scorecard reads, steward digests and decisions."""
        ...


    @property
    def reviews(self) -> Reviews:
        """Incident-review records."""
        ...


class Store(Protocol):
    """A source of transactions; the core decides where each one begins and ends."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Open a transaction; it commits when the block ends without an exception."""
        ...
