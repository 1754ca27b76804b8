"""SQLModel tables. Times are stored as naive UTC and handed back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database (SQLite has no time zones); aware UTC in Python."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite through raw text
            value = datetime.fromisoformat(value)
        found: datetime = value
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class SeenEvent(SQLModel, table=True):
    """Inbound delivery ids already taken, so a platform retry is claimed once."""

    __tablename__ = "seen_event"
    key: str = Field(primary_key=True, max_length=255)
    at: datetime = _time()


class AlertRow(SQLModel, table=True):
    """An alert. `open_key` is set while the alert is unresolved and unique, so a repeat of
    an open alert can never open a second one, even across replicas."""

    __tablename__ = "alert"
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    channel: str = Field(max_length=255)
    system: str | None = Field(default=None, index=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    open_key: str | None = Field(default=None, unique=True, max_length=600)
    title: str = Field(max_length=300)
    text: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="open", index=True, max_length=16)
    holder: str | None = Field(default=None, max_length=255)
    held_since: datetime | None = _time(nullable=True)
    opened_at: datetime = _time()
    link: str | None = Field(default=None, max_length=2000)
    source_channel: str | None = Field(default=None, max_length=255)
    source_id: str | None = Field(default=None, max_length=255)
    source_thread: str | None = Field(default=None, max_length=255)
    repeats: int = 0
    resolved_by: str | None = Field(default=None, max_length=255)
    resolved_at: datetime | None = _time(nullable=True)
    # The integration (Slack bot/app, Teams bot, "http" intake) that posted the firing alert.
    integration: str | None = Field(default=None, max_length=255)


class ClaimRow(SQLModel, table=True):
    """Where an alert's claim message lives, and the lease for posting it exactly once."""

    __tablename__ = "claim"
    alert_id: int = Field(primary_key=True, foreign_key="alert.id")
    channel: str | None = Field(default=None, max_length=255)
    message_id: str | None = Field(default=None, index=True, max_length=255)
    thread: str | None = Field(default=None, max_length=255)
    combined: bool = False
    posted_at: datetime | None = _time(nullable=True)
    lease_until: datetime | None = _time(nullable=True)


class AcknowledgementRow(SQLModel, table=True):
    """One acknowledgement per alert: the unique key makes racing clicks record one."""

    __tablename__ = "acknowledgement"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", unique=True)
    person: str = Field(max_length=255)
    at: datetime = _time()


class EscalationStepRow(SQLModel, table=True):
    """A step of the escalation map copied onto an alert, with its sending lease."""

    __tablename__ = "escalation_step"
    __table_args__ = (
        UniqueConstraint("alert_id", "position"),
        Index("ix_escalation_step_due", "state", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    position: int
    person: str = Field(max_length=255)
    label: str = Field(max_length=255)
    due_at: datetime = _time()
    state: str = Field(default="pending", max_length=16)
    lease_token: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _time(nullable=True)
    sent_at: datetime | None = _time(nullable=True)
    message_id: str | None = Field(default=None, max_length=255)


class StopRequestRow(SQLModel, table=True):
    """A stop or resume: requested, then running, then done, failed or cancelled."""

    __tablename__ = "stop_request"
    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(index=True, max_length=255)
    kind: str = Field(max_length=16)
    requested_by: str = Field(max_length=255)
    user_id: str = Field(max_length=255)
    platform: str = Field(max_length=16)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    channel: str | None = Field(default=None, max_length=255)
    state: str = Field(default="requested", max_length=16)
    requested_at: datetime = _time()
    updated_at: datetime | None = _time(nullable=True)
    result: str = Field(default="", sa_column=Column(Text, nullable=False))


class SystemStateRow(SQLModel, table=True):
    """Whether a system is stopped."""

    __tablename__ = "system_state"
    system: str = Field(primary_key=True, max_length=255)
    stopped: bool = False
    changed_at: datetime | None = _time(nullable=True)
    changed_by: str | None = Field(default=None, max_length=255)


class ConfirmationRow(SQLModel, table=True):
    """A role holder's "still mine"."""

    __tablename__ = "confirmation"
    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(index=True, max_length=255)
    role: str = Field(max_length=32)
    person: str = Field(max_length=255)
    at: datetime = _time()


class AuditRow(SQLModel, table=True):
    """An evidence entry; `hash` covers `prev_hash` and the entry's canonical JSON."""

    __tablename__ = "audit_entry"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _time()
    actor: str = Field(max_length=255)
    action: str = Field(max_length=64)
    system: str | None = Field(default=None, index=True, max_length=255)
    alert_id: int | None = None
    detail: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """The chain's tip; appending locks this one row so concurrent writers never fork it."""

    __tablename__ = "audit_head"
    id: int = Field(primary_key=True)
    seq: int
    hash: str = Field(max_length=64)


class InboxDeliveryRow(SQLModel, table=True):
    """A delivery recorded before it was answered (store/inbox.py). The unique key dedups a
    platform's redeliveries; `done_at` is set in the same transaction as the processing's own
    writes; `lease_*` hand a pending delivery to one worker at a time."""

    __tablename__ = "inbox_delivery"
    __table_args__ = (
        UniqueConstraint("platform", "delivery_id", name="uq_inbox_delivery_key"),
        # Pending work (done_at IS NULL) in arrival order, and done rows by age for pruning.
        Index("ix_inbox_delivery_done", "done_at", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    delivery_id: str = Field(max_length=255)
    kind: str = Field(max_length=32)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = _time()
    attempts: int = 0
    lease_token: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = _time(nullable=True)
    done_at: datetime | None = _time(nullable=True)


class ConsoleLinkRow(SQLModel, table=True):
    """A one-time console sign-in link. Only the token's SHA-256 is kept: a copy of the
    database signs nobody in."""

    __tablename__ = "console_link"
    token_hash: str = Field(primary_key=True, max_length=64)
    person: str = Field(max_length=255)
    created_at: datetime = _time()
    expires_at: datetime = _time(index=True)
    used_at: datetime | None = _time(nullable=True)


class ConsoleSessionRow(SQLModel, table=True):
    """A signed-in console browser, keyed by the SHA-256 of its cookie."""

    __tablename__ = "console_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    person: str = Field(max_length=255)
    created_at: datetime = _time()
    expires_at: datetime = _time(index=True)


# ---- governance and incident review (issues 13 and 14) ---------------------------------------

# Scorecards and reviews read the evidence log by action and time, and by alert.
Index("ix_audit_entry_action_at", AuditRow.action, AuditRow.at)  # type: ignore[arg-type]
Index("ix_audit_entry_alert_id", AuditRow.alert_id)  # type: ignore[arg-type]
Index("ix_alert_resolved_at", AlertRow.resolved_at)  # type: ignore[arg-type]


class RegistryVersionRow(SQLModel, table=True):
    """A registry file as it was loaded: its sha256 and its text, kept for reviews."""

    __tablename__ = "registry_version"
    version: str = Field(primary_key=True, max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="", max_length=1000)
    loaded_at: datetime = _time()


class AlertVersionRow(SQLModel, table=True):
    """The registry version in force when an alert was taken."""

    __tablename__ = "alert_registry_version"
    alert_id: int = Field(primary_key=True, foreign_key="alert.id")
    version: str = Field(max_length=64)


class ResolveFormRow(SQLModel, table=True):
    """The resolver's answers (or "skipped"): failure class and why the output passed."""

    __tablename__ = "resolve_form"
    alert_id: int = Field(primary_key=True, foreign_key="alert.id")
    skipped: bool = False
    failure_class: str | None = Field(default=None, max_length=32)
    why_passed: str = Field(default="", sa_column=Column(Text, nullable=False))
    by: str = Field(max_length=255)
    at: datetime = _time()


class FollowUpRow(SQLModel, table=True):
    """A follow-up action from an incident, with its owner, due date and chasing state."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_open_due", "done_at", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    system: str | None = Field(default=None, index=True, max_length=255)
    action: str = Field(sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=255)
    due_at: datetime = _time()
    created_by: str = Field(max_length=255)
    created_at: datetime = _time()
    reminded_at: datetime | None = _time(nullable=True)
    escalated_at: datetime | None = _time(nullable=True)
    done_at: datetime | None = _time(nullable=True)
    done_by: str | None = Field(default=None, max_length=255)


class GovernanceDigestRow(SQLModel, table=True):
    """One system's scorecard sent to its steward for one period, and the decision taken.
    Unique per system and period, so replicas send each digest once."""

    __tablename__ = "governance_digest"
    __table_args__ = (UniqueConstraint("system", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(index=True, max_length=255)
    period: str = Field(max_length=32)
    steward: str = Field(max_length=255)
    sent_at: datetime = _time(index=True)
    platform: str | None = Field(default=None, max_length=16)
    decision: str | None = Field(default=None, max_length=16)
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = _time(nullable=True)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    escalated_at: datetime | None = _time(nullable=True)
    escalated_to: str | None = Field(default=None, max_length=255)
