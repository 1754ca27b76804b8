"""Governance with several replicas on one PostgreSQL database, each with its own engine:
the weekly digest goes out once when three replicas fire at the same moment, an undecided
digest is escalated once, and two clicks of the steward at once record one decision."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.fake import InMemoryPlatform, ManualClock
from bot.domain import UserRef
from bot.events import ButtonClicked
from bot.evidence import verify_chain
from bot.registry import Registry
from bot.scorecard_views import DECIDE
from tests.store.test_replicas import engine_on, replica, schema  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres
PERIOD = "2026-11-02T08:00:00+00:00"


def digests(chats: list[InMemoryPlatform]) -> Counter[str]:
    return Counter(
        s.user.id
        for chat in chats
        for s in chat.posts("direct")
        if s.user and s.card.title.startswith("Weekly governance")
    )


async def test_three_replicas_send_one_digest_escalate_once_and_decide_once(
    registry: Registry,
    schema: str,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    stores = [engine_on(schema) for _ in range(3)]
    replicas = [
        replica(registry, store, clock, f"worker-{n}", tmp_path) for n, store in enumerate(stores)
    ]
    services = [s for s, _ in replicas]
    chats = [c for _, c in replicas]
    try:
        reports = await asyncio.gather(*(s.governance(period=PERIOD) for s in services))
        assert sorted(r.ran for r in reports) == [False, False, True]
        assert digests(chats) == Counter({"U0CAROL03": 1})

        clock.advance(timedelta(hours=48))
        escalated = await asyncio.gather(*(s.decision_timebox() for s in services))
        assert sorted(e.system for done in escalated for e in done) == [
            "billing-router",
            "support-drafter",
        ]
        to_dana = [s for chat in chats for s in chat.directs_to("U0DANA004")]
        assert sorted(s.card.title for s in to_dana) == [
            "No decision on billing-router: you decide",
            "No decision on support-drafter: you decide",
        ]

        click = ButtonClicked(
            user=UserRef("slack", "U0CAROL03"), action=DECIDE, value="continue:support-drafter"
        )
        replies = await asyncio.gather(*(s.click(click) for s in services))
        titles = sorted(r.card.title for r in replies if r is not None)
        assert titles == [
            "Already decided: support-drafter",
            "Already decided: support-drafter",
            "Continue: support-drafter",
        ]
        async with stores[0].transaction() as tx:
            entries = await tx.evidence.entries()
        assert verify_chain(entries) is None
        actions = Counter(e.action for e in entries)
        assert actions["governance.digest_sent"] == 1
        assert actions["governance.escalated"] == 2
        assert actions["governance.decided"] == 1
    finally:
        for store in stores:
            await store.close()


async def test_an_undelivered_digest_is_retried_by_one_replica(
    registry: Registry,
    schema: str,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    stores = [engine_on(schema) for _ in range(3)]
    replicas = [replica(registry, s, clock, f"worker-{n}", tmp_path) for n, s in enumerate(stores)]
    chats = [c for _, c in replicas]
    try:
        for chat in chats:
            chat.users["U0CAROL03"].reachable = False
        reports = await asyncio.gather(*(s.governance(period=PERIOD) for s, _ in replicas))
        assert [r.undelivered for r in reports if r.ran] == [["carol"]]
        for chat in chats:
            chat.users["U0CAROL03"].reachable = True
        clock.advance(timedelta(minutes=1))
        retried = await asyncio.gather(*(s.retry_digests() for s, _ in replicas))
        assert sum(len(r) for r in retried) == 1
        assert digests(chats) == Counter({"U0CAROL03": 1})
    finally:
        for store in stores:
            await store.close()
