"""GOVERNANCE_CRON inside the app: Monday 08:00 in TZ by default, crontab weekday numbers,
refused when malformed, and a digest missed by a deploy sent once by the replicas that start
just after its fire time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from adapters.fake import ManualClock
from adapters.scheduling import JOBS, ScheduleError, governance_trigger, period_of
from adapters.server import build_app
from tests.adapters.ops_support import eventually, runtime_for, settings_for, workspace

MONDAY_0800 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "fire"),
    [
        ("UTC", MONDAY_0800),
        ("Europe/Berlin", MONDAY_0800 - timedelta(hours=1)),
        ("America/New_York", MONDAY_0800 + timedelta(hours=5)),
    ],
)
def test_the_default_digest_is_monday_0800_in_tz(tmp_path: Path, tz: str, fire: datetime) -> None:
    trigger = governance_trigger(settings_for(tmp_path, tz=tz))
    assert trigger.get_next_fire_time(None, datetime(2026, 10, 31, tzinfo=UTC)) == fire
    assert period_of(trigger, fire + timedelta(hours=30)) == fire.isoformat()


def test_crontab_weekdays_and_bad_expressions(tmp_path: Path) -> None:
    trigger = governance_trigger(settings_for(tmp_path, governance_cron="0 7 * * 5"))
    fire = trigger.get_next_fire_time(None, MONDAY_0800)
    assert fire is not None and fire.weekday() == 4  # crontab 5 is Friday
    for bad, why in (("0 8 * *", "needs 5 crontab fields"), ("0 8 1 * mon", "both")):
        with pytest.raises(ScheduleError, match=why) as raised:
            governance_trigger(settings_for(tmp_path, governance_cron=bad))
        assert "GOVERNANCE_CRON=" in str(raised.value)


async def test_replicas_started_just_after_the_fire_time_send_the_digest_once(
    tmp_path: Path,
) -> None:
    clock = ManualClock(MONDAY_0800 + timedelta(minutes=10))
    chats = [workspace(), workspace()]
    runners = []
    try:
        for chat in chats:
            runtime = await runtime_for(
                settings_for(tmp_path, stale_scan_cron="0 3 1 1 *"), clock, chat
            )
            app = build_app(runtime)
            runner = web.AppRunner(app)
            await runner.setup()
            runners.append((runner, app))
            await eventually(lambda app=app: app[JOBS].last_digests is not None)  # type: ignore[misc]
        reports = [app[JOBS].last_digests for _, app in runners]
        assert [r.ran for r in reports if r] == [True, False]
        assert reports[0] is not None and reports[0].period == MONDAY_0800.isoformat()
        sent = [s for chat in chats for s in chat.posts("direct")]
        assert [(s.user.id if s.user else None) for s in sent] == ["U0CAROL03"]
        assert runners[0][1][JOBS].scheduler.get_job("decision-timebox") is not None
    finally:
        for runner, _ in runners:
            await runner.cleanup()
