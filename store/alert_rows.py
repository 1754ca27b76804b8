"""The rows behind the alert aggregate: its tables with readable names, and one query that
reads an alert with its claim message and acknowledgement (shared by every alert read)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.domain import Alert, AlertState, MessageRef
from store.sql import table
from store.tables import AcknowledgementRow, AlertRow, ClaimRow, EscalationStepRow, SeenEvent

ALERTS = table(AlertRow)
CLAIMS = table(ClaimRow)
ACKNOWLEDGEMENTS = table(AcknowledgementRow)
STEPS = table(EscalationStepRow)
SEEN = table(SeenEvent)
alert = ALERTS.c
claim = CLAIMS.c
ack = ACKNOWLEDGEMENTS.c

_ALERT_COLUMNS = (
    *ALERTS.c,
    claim.channel.label("claim_channel"),
    claim.message_id.label("claim_id"),
    claim.thread.label("claim_thread"),
    claim.combined.label("claim_combined"),
    ack.person.label("ack_person"),
    ack.at.label("ack_at"),
)


def alert_query() -> Any:
    """Alerts with their claim message and acknowledgement, ready for `to_alert`."""
    return (
        select(*_ALERT_COLUMNS)
        .select_from(ALERTS)
        .outerjoin(CLAIMS, claim.alert_id == alert.id)
        .outerjoin(ACKNOWLEDGEMENTS, ack.alert_id == alert.id)
    )


def to_alert(row: Any) -> Alert:
    """A row of `alert_query` as the core's Alert."""
    source = (
        MessageRef(row.platform, row.source_channel, row.source_id, row.source_thread)
        if row.source_id
        else None
    )
    claimed = (
        MessageRef(row.platform, row.claim_channel, row.claim_id, row.claim_thread)
        if row.claim_id
        else None
    )
    return Alert(
        id=row.id,
        platform=row.platform,
        channel=row.channel,
        system=row.system,
        fingerprint=row.fingerprint,
        title=row.title,
        text=row.text,
        state=AlertState(row.state),
        holder=row.holder,
        opened_at=row.opened_at,
        link=row.link,
        source=source,
        claim=claimed,
        acknowledged_by=row.ack_person,
        acknowledged_at=row.ack_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        held_since=row.held_since,
        integration=row.integration,
        repeats=row.repeats,
        claim_combined=bool(row.claim_combined),
    )
