"""The scheduler inside the app: the escalation tick, the stale scan's cron schedule in TZ
(crontab weekday numbers), one period per scan across replicas, the catch-up of a scan missed
by a deploy, and graceful shutdown that lets in-flight work finish or leaves it to its lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from apscheduler.schedulers.base import STATE_PAUSED
from sqlalchemy import text

from adapters.fake import InMemoryPlatform, ManualClock, deliver
from adapters.scheduling import (
    JOBS,
    Jobs,
    ScheduleError,
    crontab_weekdays,
    latest_fire,
    period_of,
    stale_trigger,
)
from adapters.server import build_app
from bot.cards import Card
from bot.domain import UserRef
from store.database import SqlStore, make_engine
from tests.adapters.ops_support import alert, eventually, runtime_for, settings_for, workspace

MONDAY_0900 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("mon", "mon"),
        ("1", "mon"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1,3", "mon,wed"),
    ],
)
def test_crontab_weekday_numbers_keep_their_crontab_meaning(field: str, names: str) -> None:
    assert crontab_weekdays(field) == names


@pytest.mark.parametrize(
    ("tz", "first_fire"),
    [
        ("UTC", datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2026, 11, 2, 8, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 11, 2, 14, 0, tzinfo=UTC)),
    ],
)
def test_default_stale_scan_is_monday_0900_in_tz(
    tmp_path: Path, tz: str, first_fire: datetime
) -> None:
    trigger = stale_trigger(settings_for(tmp_path, tz=tz))
    after_sunday = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, after_sunday) == first_fire


def test_numeric_weekdays_follow_crontab_not_apscheduler(tmp_path: Path) -> None:
    trigger = stale_trigger(settings_for(tmp_path, stale_scan_cron="30 7 * * 1-5"))
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 7, 12, 0, tzinfo=UTC))  # a Sat
    assert fire == datetime(2026, 11, 9, 7, 30, tzinfo=UTC)  # Monday, as cron means it


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stale_scan_cron": "0 9 * *"}, "needs 5 crontab fields"),
        ({"stale_scan_cron": "0 25 * * mon"}, "is not a crontab expression"),
        ({"stale_scan_cron": "0 9 * * funday"}, "is not a crontab expression"),
        ({"stale_scan_cron": "0 9 1 * mon"}, "restricts both day-of-month and day-of-week"),
        ({"tz": "Mars/Olympus_Mons"}, "TZ='Mars/Olympus_Mons' is not a known time zone"),
    ],
)
def test_a_bad_schedule_is_refused_with_a_clear_message(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ScheduleError, match=message):
        stale_trigger(settings_for(tmp_path, **overrides))


def test_replicas_with_skewed_clocks_name_the_same_period(tmp_path: Path) -> None:
    trigger = stale_trigger(settings_for(tmp_path, tz="Europe/Berlin"))
    fire = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    seen = {
        period_of(trigger, fire + skew)
        for skew in (
            timedelta(seconds=-10),  # a replica whose clock runs 10s fast fires "early"
            timedelta(0),
            timedelta(milliseconds=700),
            timedelta(seconds=25),
            timedelta(hours=30),  # Tuesday: still Monday's period
        )
    }
    assert seen == {"2026-11-02T08:00:00+00:00"}
    assert period_of(trigger, fire + timedelta(days=7)) == "2026-11-09T08:00:00+00:00"
    assert latest_fire(trigger, fire - timedelta(seconds=1)) == fire - timedelta(days=7)


async def test_the_app_ticks_escalations_on_its_own(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_0900 + timedelta(days=1))  # no stale scan due: only the tick
    chat = workspace()
    runtime = await runtime_for(settings_for(tmp_path, escalation_tick=0.05), clock, chat)
    await deliver(runtime.service, alert("billing-router p99 latency", event="1"))
    clock.advance(timedelta(minutes=11))
    runner = web.AppRunner(build_app(runtime))
    await runner.setup()
    try:
        await eventually(lambda: bool(chat.directs_to("U0BOB0002")))
    finally:
        await runner.cleanup()
    (dm,) = chat.directs_to("U0BOB0002")
    assert dm.card.title.startswith("Escalation: billing-router")


async def test_a_replica_started_just_after_the_fire_time_runs_the_missed_scan_once(
    tmp_path: Path,
) -> None:
    clock = ManualClock(MONDAY_0900 + timedelta(minutes=10))  # a deploy spanned 09:00
    chats = [workspace(), workspace()]
    runners = []
    for chat in chats:
        runtime = await runtime_for(settings_for(tmp_path), clock, chat)
        app = build_app(runtime)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append((runner, app))
        await eventually(lambda app=app: app[JOBS].last_scan is not None)  # type: ignore[misc]
    try:
        reports = [app[JOBS].last_scan for _, app in runners]
        assert [r.ran for r in reports if r] == [True, False]
        assert reports[0] is not None
        assert reports[0].period == "2026-11-02T09:00:00+00:00"
        digests = [s for s in chats[0].posts("direct") if s.card.title.startswith("Ownership")]
        assert len(digests) == 3
        assert chats[1].posts("direct") == []
        assert runners[0][1][JOBS].runtime.metrics.stale_digests._value.get() == 3
    finally:
        for runner, _ in runners:
            await runner.cleanup()


async def test_no_catch_up_long_after_the_fire_time(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_0900 + timedelta(hours=3))
    runtime = await runtime_for(settings_for(tmp_path), clock)
    app = build_app(runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert app[JOBS].scheduler.get_job("stale-scan-catch-up") is None
        job = app[JOBS].scheduler.get_job("stale-scan")
        assert job is not None
    finally:
        await runner.cleanup()


class GatedPlatform(InMemoryPlatform):
    """An in-memory platform whose direct messages wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(name="slack")
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def direct(self, *, user: UserRef, card: Card):  # type: ignore[no-untyped-def]
        self.waiting.set()
        await self.gate.wait()
        return await super().direct(user=user, card=card)


async def step_states(tmp_path: Path) -> list[tuple[str, str | None]]:
    """Read the steps with a fresh engine (the app closed its own on shutdown)."""
    store = SqlStore(make_engine(f"sqlite:///{tmp_path / 'bot.db'}"))
    try:
        async with store.transaction() as tx:
            rows = await tx.session.execute(  # type: ignore[attr-defined]
                text("SELECT state, lease_token FROM escalation_step ORDER BY position")
            )
            return [(r[0], r[1]) for r in rows]
    finally:
        await store.close()


async def started_with_gated_tick(
    tmp_path: Path, grace: float
) -> tuple[web.AppRunner, GatedPlatform, Jobs]:
    clock = ManualClock(MONDAY_0900 + timedelta(days=1))
    chat = GatedPlatform()
    for uid, email in workspace().users.items():
        chat.add_user(uid, email.email)
    runtime = await runtime_for(settings_for(tmp_path, escalation_tick=0.05), clock, chat)
    await deliver(runtime.service, alert("billing-router p99 latency", event="1"))
    clock.advance(timedelta(minutes=11))
    app = build_app(runtime)
    app[JOBS].grace = grace
    runner = web.AppRunner(app)
    await runner.setup()
    await asyncio.wait_for(chat.waiting.wait(), 10)  # a tick is now mid-send
    return runner, chat, app[JOBS]


async def test_sigterm_shutdown_lets_an_in_flight_escalation_finish(tmp_path: Path) -> None:
    runner, chat, jobs = await started_with_gated_tick(tmp_path, grace=10)

    shutdown = asyncio.create_task(runner.cleanup())
    await asyncio.sleep(0.1)
    assert not shutdown.done()  # waiting for the send, not cutting it off
    assert jobs.scheduler.state == STATE_PAUSED  # nothing new starts meanwhile
    chat.gate.set()
    await asyncio.wait_for(shutdown, 10)

    assert len(chat.directs_to("U0BOB0002")) == 1
    assert (await step_states(tmp_path))[0][0] == "sent"


async def test_shutdown_past_its_grace_leaves_the_step_to_its_lease(tmp_path: Path) -> None:
    runner, chat, _ = await started_with_gated_tick(tmp_path, grace=0.1)

    await asyncio.wait_for(runner.cleanup(), 10)

    assert chat.directs_to("U0BOB0002") == []
    state, lease = (await step_states(tmp_path))[0]
    assert state == "pending" and lease is not None  # another replica sends it after the lease
