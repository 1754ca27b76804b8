"""Storage failure while taking an alert: nothing is posted and nothing half-stored, so the
platform's redelivery of the same event is claimed normally."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from adapters.fake import InMemoryPlatform, deliver
from bot.domain import MessageRef
from bot.events import AlertSeen
from bot.service import AccountabilityService
from store.database import SqlStore

EVENT = AlertSeen(
    platform="slack",
    channel="C0ALERTS1",
    text="billing-router down",
    event_id="Ev-storage",
    message=MessageRef("slack", "C0ALERTS1", "1.0"),
)


async def test_failed_storage_raises_and_redelivery_is_claimed(
    service: AccountabilityService, store: SqlStore, slack: InMemoryPlatform
) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE escalation_step RENAME TO escalation_step_gone"))
    with pytest.raises(SQLAlchemyError):
        await deliver(service, EVENT)
    assert slack.sent == []
    async with store.transaction() as tx:
        assert await tx.alerts.unresolved() == []  # the alert row was rolled back with the rest
    async with store.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE escalation_step_gone RENAME TO escalation_step"))

    again = await deliver(service, EVENT)  # the platform delivers it again
    assert again.outcome == "claimed"
    assert len(slack.posts("post")) == 1
