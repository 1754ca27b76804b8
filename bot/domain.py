"""Plain domain records shared by the core and the ports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

Platform = Literal["slack", "teams", "fake"]

BOT = "accountability-bot"  # the actor of evidence entries the bot itself causes


class AlertState(StrEnum):
    """Where an alert is in its life: open (nobody has said "I have it"), acknowledged, resolved."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class StepState(StrEnum):
    """A copied escalation step: waiting, sent, or cancelled because someone acknowledged."""

    PENDING = "pending"
    SENT = "sent"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class UserRef:
    """A user on one chat platform, identified by that platform's user id."""

    platform: str
    id: str


@dataclass(frozen=True)
class MessageRef:
    """A message on one platform: its channel (or conversation) and its id (Slack `ts`)."""

    platform: str
    channel: str
    id: str
    thread: str | None = None

    @property
    def thread_root(self) -> str:
        """The id of the thread this message belongs to (itself when it starts one)."""
        return self.thread or self.id


@dataclass(frozen=True)
class Alert:
    """One alert as stored: which system, who holds it, and where its claim lives."""

    id: int
    platform: str
    channel: str
    system: str | None
    fingerprint: str
    title: str
    text: str
    state: AlertState
    holder: str | None
    opened_at: datetime
    link: str | None = None
    source: MessageRef | None = None
    claim: MessageRef | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    held_since: datetime | None = None
    repeats: int = 0
    claim_combined: bool = False  # the claim is a storm board shared with other alerts
    integration: str | None = None  # who posted it, when an integration did (may resolve it)


@dataclass(frozen=True)
class PlannedStep:
    """An escalation step copied onto an alert when it opens."""

    position: int
    person: str
    label: str
    due_at: datetime


@dataclass(frozen=True)
class DueStep:
    """An escalation step a worker has leased and must now send."""

    id: int
    alert_id: int
    position: int
    person: str
    label: str
    due_at: datetime
    lease_token: str
    direct_message: str | None = None  # sent by a worker that died before finishing


@dataclass(frozen=True)
class StopRequest:
    """A stop or resume that the stop-authority holder asked for and must confirm."""

    id: int
    system: str
    kind: Literal["stop", "resume"]
    requested_by: str
    user_id: str
    platform: str
    reason: str
    state: str
    requested_at: datetime
    channel: str | None = None


@dataclass(frozen=True)
class SystemStatus:
    """Whether a system is stopped, since when and by whom."""

    system: str
    stopped: bool
    changed_at: datetime | None = None
    changed_by: str | None = None


@dataclass(frozen=True)
class AuditDraft:
    """An evidence entry before the chain gives it a place and a hash."""

    at: datetime
    actor: str
    action: str
    system: str | None
    alert_id: int | None
    detail: dict[str, object]


@dataclass(frozen=True)
class AuditEntry:
    """One hash-chained evidence entry."""

    seq: int
    at: datetime
    actor: str
    action: str
    system: str | None
    alert_id: int | None
    detail: dict[str, object]
    prev_hash: str
    hash: str


Outcome = Literal[
    "claimed", "unowned", "repeat", "resolved", "duplicate", "ignored", "not_an_alert"
]


@dataclass(frozen=True)
class AlertTaken:
    """What happened to an inbound message; `alert` is None for duplicates, ignores and
    messages that are not alerts."""

    outcome: Outcome
    alert: Alert | None = None
    system: str | None = None
    holder: str | None = None
