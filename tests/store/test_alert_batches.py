"""Multi-row alert storage (tx.alerts.remember_events / add_many / count_repeats,
tx.steps.add_many) on SQLite and PostgreSQL: what a batch of deliveries from the inbox uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import MessageRef, PlannedStep
from bot.storage import NewAlert
from store.database import SqlStore

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def new(key: str, system: str | None = "billing-router") -> NewAlert:
    """An alert to open with this open key."""
    return NewAlert(
        platform="slack",
        channel="C0ALERTS1",
        system=system,
        fingerprint=key,
        open_key=key,
        title=f"title {key}",
        text=f"text {key}",
        holder="alice",
        opened_at=AT,
        link=None,
        source=MessageRef("slack", "C0ALERTS1", f"{key}.1"),
    )


async def test_remember_events_reports_only_new_ids(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.alerts.remember_events(keys=["a", "b", "a"], at=AT) == {"a", "b"}
    async with store.transaction() as tx:
        assert await tx.alerts.remember_events(keys=["b", "c"], at=AT) == {"c"}
        assert await tx.alerts.remember_events(keys=[], at=AT) == set()


async def test_add_many_opens_new_keys_and_counts_repeats(store: SqlStore) -> None:
    async with store.transaction() as tx:
        opened = await tx.alerts.add_many(alerts=[new("k1"), new("k2")], claim_lease_until=AT)
        assert sorted(opened) == ["k1", "k2"]
        await tx.steps.add_many(
            steps={
                opened["k1"].id: [
                    PlannedStep(1, "bob", "maintainer", AT + timedelta(minutes=10)),
                    PlannedStep(2, "carol", "steward", AT + timedelta(minutes=30)),
                ],
                opened["k2"].id: [],
            }
        )
    async with store.transaction() as tx:
        again = await tx.alerts.add_many(
            alerts=[new("k2"), new("k3", system=None)], claim_lease_until=AT
        )
        assert sorted(again) == ["k3"]
        assert again["k3"].system is None
        repeats = await tx.alerts.count_repeats(counts={"k2": 3, "gone": 1})
        assert sorted(repeats) == ["k2"]
        assert repeats["k2"].repeats == 3
        steps = await tx.steps.of_alert(alert_id=opened["k1"].id)
        assert [(s.person, s.position) for s in steps] == [("bob", 1), ("carol", 2)]
        stored = await tx.alerts.get(alert_id=opened["k1"].id)
        assert stored is not None
        assert stored.source == MessageRef("slack", "C0ALERTS1", "k1.1")
        assert await tx.alerts.unposted_claims(now=AT + timedelta(seconds=1), limit=10) == [
            opened["k1"].id,
            opened["k2"].id,
            again["k3"].id,
        ]


async def test_set_claims_puts_many_on_one_board_once(store: SqlStore) -> None:
    async with store.transaction() as tx:
        opened = await tx.alerts.add_many(
            alerts=[new("k1"), new("k2"), new("k3")], claim_lease_until=AT
        )
    ids = [a.id for a in opened.values()]
    board = MessageRef("slack", "C0ALERTS1", "99.1")
    async with store.transaction() as tx:
        assert await tx.alerts.set_claim(alert_id=ids[0], message=MessageRef("slack", "C", "1"))
        assert await tx.alerts.set_claims(alert_ids=ids, message=board, combined=True) == set(
            ids[1:]
        )
        on_board = await tx.alerts.on_claim(message=board)
    assert [a.id for a in on_board] == ids[1:]
    assert all(a.claim_combined for a in on_board)
