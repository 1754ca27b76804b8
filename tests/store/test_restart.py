"""A restart loses nothing and sends nothing twice: a new engine on the same database file
picks up open alerts and their pending escalation steps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from adapters.actions import ActionRunner
from adapters.fake import InMemoryPlatform, ManualClock, deliver
from bot.domain import MessageRef
from bot.events import AlertSeen
from bot.registry import Registry
from bot.service import AccountabilityService
from tests.conftest import PEOPLE, sqlite_store


def platform() -> InMemoryPlatform:
    p = InMemoryPlatform(name="slack")
    for uid, email in PEOPLE.items():
        p.add_user(uid, email)
    return p


async def test_restart_keeps_pending_escalations_and_sends_each_once(
    tmp_path: Path, registry: Registry, clock: ManualClock
) -> None:
    db = tmp_path / "bot.db"
    first_platform = platform()
    store = await sqlite_store(db)
    first = AccountabilityService(
        registry=registry,
        store=store,
        platforms={"slack": first_platform},
        clock=clock,
        stop_runner=ActionRunner(workdir=tmp_path, environ={}),
    )
    for i in range(3):
        await deliver(
            first,
            AlertSeen(
                platform="slack",
                channel="C0ALERTS1",
                text=f"billing-router incident {'abc'[i]}x",
                event_id=f"Ev{i}",
                message=MessageRef("slack", "C0ALERTS1", f"{i}.0"),
            ),
        )
    clock.advance(timedelta(minutes=10))
    assert len((await first.tick()).sent) == 3  # the maintainer step of each alert
    await store.close()  # the process dies

    clock.advance(timedelta(minutes=25))
    second_platform = platform()
    store = await sqlite_store(db)  # migrations are idempotent on restart
    second = AccountabilityService(
        registry=registry,
        store=store,
        platforms={"slack": second_platform},
        clock=clock,
        stop_runner=ActionRunner(workdir=tmp_path, environ={}),
    )
    report = await second.tick()
    assert len(report.sent) == 3  # only the steward steps: the maintainer ones were sent
    # Three steps due for Carol at once arrive as one combined direct message.
    (digest,) = second_platform.directs_to("U0CAROL03")
    assert dict(digest.card.fields)["Alerts"] == "#1, #2, #3"
    assert second_platform.directs_to("U0BOB0002") == []
    assert (await second.tick()).sent == []
    async with store.transaction() as tx:
        assert len(await tx.alerts.unresolved()) == 3
    await store.close()
