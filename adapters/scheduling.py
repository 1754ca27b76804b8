"""The scheduler inside `serve`: APScheduler's asyncio scheduler with its in-memory job store
(its docs forbid sharing a job store between processes; our state lives in our own tables).

Jobs run in every replica: the escalation tick every `ESCALATION_TICK` (replicas share due
steps through row leases), the stale-ownership scan on `STALE_SCAN_CRON` and the stewards'
governance digests on `GOVERNANCE_CRON`, both in `TZ`, and the decision time box every minute.
Every replica fires the cron jobs; the `job_run` row of the cron period lets exactly one of
them run it (the time box marks each digest it escalates, so it too acts once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from adapters.settings import Settings
from bot import governance, stale

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)

# Replicas' clocks and APScheduler's wake-ups differ by a little; a run that starts this
# much after (or, with a fast clock, before) its fire time still names the same period.
SKEW = timedelta(seconds=30)
# A replica starting this soon after a fire time that no replica ran (a deploy at 09:00)
# runs the scan then instead of waiting a whole period.
CATCH_UP = timedelta(hours=1)
SHUTDOWN_GRACE = 10.0
TIMEBOX_EVERY = 60  # seconds between looks for undecided digests past their time box
FOLLOW_UP_EVERY = 60  # seconds between looks for follow-ups come due
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleError(ValueError):
    """STALE_SCAN_CRON, GOVERNANCE_CRON, TZ or ESCALATION_TICK cannot be used."""


def _day(token: str) -> int:
    word = token.strip().lower()
    if word.isdigit() and 0 <= int(word) <= 7:
        return int(word) % 7
    if word[:3] in _DAYS and len(word) == 3:
        return _DAYS.index(word[:3])
    raise ValueError(f"not a day of the week: {token!r}")


def crontab_weekdays(field: str) -> str:
    """Translate a crontab day-of-week field (0 or 7 = Sunday) into APScheduler's names.

    APScheduler 3 counts 0 as Monday, so `1-5` would silently mean Tuesday to Saturday.
    """
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {part!r}")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = _day(low), _day(high)
            if high.strip() == "7":
                last = 7
            if last < first:
                raise ValueError(f"backwards range {span!r}")
        else:
            first = _day(span)
            last = 6 if step_text else first
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def stale_trigger(settings: Settings) -> CronTrigger:
    """The cron trigger of the stale scan, in the configured time zone."""
    return cron_trigger("STALE_SCAN_CRON", settings.stale_scan_cron, tz_name=settings.tz)


def governance_trigger(settings: Settings) -> CronTrigger:
    """The cron trigger of the stewards' weekly digests, in the configured time zone."""
    return cron_trigger("GOVERNANCE_CRON", settings.governance_cron, tz_name=settings.tz)


def cron_trigger(name: str, expression: str, *, tz_name: str) -> CronTrigger:
    """A crontab expression (5 fields, cron's day-of-week numbering) as a trigger in `tz_name`."""
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"TZ={tz_name!r} is not a known time zone") from exc
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"{name}={expression!r} needs 5 crontab fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 9 * * mon'"
        )
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        # cron ORs the two fields, APScheduler ANDs them: refuse rather than guess.
        raise ScheduleError(
            f"{name}={expression!r} restricts both day-of-month and "
            "day-of-week; give one of them as '*'"
        )
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekday),
            timezone=tz,
        )
    except ValueError as exc:
        raise ScheduleError(f"{name}={expression!r} is not a crontab expression: {exc}") from exc


def latest_fire(trigger: CronTrigger, at: datetime) -> datetime | None:
    """The trigger's latest fire time at or before `at` (None if none in the past 400 days)."""
    span = timedelta(minutes=1)
    while span <= timedelta(days=400):
        fire: datetime | None = trigger.get_next_fire_time(None, at - span)
        if fire is not None and fire <= at:
            while (following := trigger.get_next_fire_time(fire, fire)) is not None:
                if following > at:
                    break
                fire = following
            return fire
        span *= 2
    return None


def period_of(trigger: CronTrigger, now: datetime) -> str:
    """The period a run at `now` belongs to: its scheduled fire time, in UTC, ISO 8601."""
    fire = latest_fire(trigger, now + SKEW) or now.replace(second=0, microsecond=0)
    return fire.astimezone(UTC).isoformat()


class Jobs:
    """The scheduler and the work it has in flight, so shutdown can let that work finish."""

    def __init__(self, runtime: Runtime, *, grace: float = SHUTDOWN_GRACE) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.grace = grace
        self.trigger = stale_trigger(settings)
        self.governance_trigger = governance_trigger(settings)
        self.tick_seconds = settings.escalation_tick.total_seconds()
        if self.tick_seconds <= 0:
            raise ScheduleError("ESCALATION_TICK must be longer than 0s")
        self.scheduler = AsyncIOScheduler(timezone=self.trigger.timezone)
        self.inflight: set[asyncio.Task[Any]] = set()
        self.last_scan: stale.ScanReport | None = None
        self.last_digests: governance.DigestReport | None = None

    async def _track(self, work: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.inflight.add(task)
        try:
            await work()
        finally:
            if task is not None:
                self.inflight.discard(task)

    async def tick(self) -> None:
        """One escalation tick; failures are logged and the steps stay due."""
        await self._track(self._tick)

    async def _tick(self) -> None:
        try:
            report = await self.runtime.service.tick()
        except Exception:
            log.exception("escalation tick failed; due steps stay due")
            return
        if report.sent:
            log.info("escalation steps sent", extra={"count": len(report.sent)})

    async def stale_scan(self) -> None:
        """The scheduled stale-ownership scan of the current period (one replica runs it)."""
        await self._track(self._stale_scan)

    async def _stale_scan(self) -> None:
        period = period_of(self.trigger, self.runtime.clock.now())
        try:
            report = await self.runtime.service.stale_scan(period=period)
        except Exception:
            log.exception("stale-ownership scan failed", extra={"period": period})
            return
        self.last_scan = report
        self.runtime.metrics.stale_digests.inc(len(report.delivered))
        log.info(
            "stale-ownership scan: " + report.summary(),
            extra={"period": period, "ran": report.ran},
        )

    async def governance(self) -> None:
        """The stewards' weekly digests of the current period (one replica sends them)."""
        await self._track(self._governance)

    async def _governance(self) -> None:
        period = period_of(self.governance_trigger, self.runtime.clock.now())
        try:
            report = await self.runtime.service.governance(period=period)
        except Exception:
            log.exception("governance digests failed", extra={"period": period})
            return
        self.last_digests = report
        log.info("governance digests: " + report.summary(), extra={"period": period})

    async def decision_timebox(self) -> None:
        """Retry undelivered digests; hand undecided ones past their time box up."""
        await self._track(self._decision_timebox)

    async def _decision_timebox(self) -> None:
        try:
            await self.runtime.service.retry_digests()
            done = await self.runtime.service.decision_timebox()
        except Exception:
            log.exception("decision time box failed; it is retried next minute")
            return
        for escalated in done:
            log.info(
                "undecided digest escalated",
                extra={"system": escalated.system, "to": list(escalated.to)},
            )
    async def follow_ups(self) -> None:
        """Chase follow-up actions come due (each reminder sent once across replicas)."""
        await self._track(self._follow_ups)

    async def _follow_ups(self) -> None:
        try:
            reminded, escalated = await self.runtime.service.chase_follow_ups()
        except Exception:
            log.exception("follow-up chase failed; they stay due")
            return
        if reminded or escalated:
            log.info("follow-ups chased", extra={"reminded": reminded, "escalated": escalated})

    def start(self) -> None:
        """Add the jobs and start; catch up a scan no replica ran if it is due only just."""
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.tick_seconds,
            max_instances=1,
            coalesce=True,
            id="escalation-tick",
        )
        self.scheduler.add_job(
            self.stale_scan,
            self.trigger,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(CATCH_UP.total_seconds()),
            id="stale-scan",
        )
        self.scheduler.add_job(
            self.governance,
            self.governance_trigger,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(CATCH_UP.total_seconds()),
            id="governance",
        )
        self.scheduler.add_job(
            self.decision_timebox,
            "interval",
            seconds=TIMEBOX_EVERY,
            max_instances=1,
            coalesce=True,
            id="decision-timebox",
        )
        self.scheduler.add_job(
            self.follow_ups,
            "interval",
            seconds=FOLLOW_UP_EVERY,
            max_instances=1,
            coalesce=True,
            id="follow-ups",
        )
        now = self.runtime.clock.now()
        catch_up = (
            (self.trigger, self.stale_scan, "stale-scan"),
            (self.governance_trigger, self.governance, "governance"),
        )
        for trigger, job, name in catch_up:
            fire = latest_fire(trigger, now)
            if fire is not None and now - fire <= CATCH_UP:
                # The job_run row makes this a no-op when a replica already ran the period.
                self.scheduler.add_job(job, id=f"{name}-catch-up")
        self.scheduler.start()

    async def stop(self) -> None:
        """Start nothing new; let in-flight work finish within the grace, then leave it to
        its leases (a step whose sender stops is sent by another replica once they lapse)."""
        if not self.scheduler.running:
            return
        # Pause first: APScheduler's asyncio executor cancels running jobs on shutdown.
        self.scheduler.pause()
        late: set[asyncio.Task[Any]] = set()
        pending = {t for t in self.inflight if not t.done()}
        if pending:
            log.info("waiting for in-flight scheduled work", extra={"tasks": len(pending)})
            _, late = await asyncio.wait(pending, timeout=self.grace)
            if late:
                log.warning(
                    "scheduled work cut short; its leases will lapse", extra={"tasks": len(late)}
                )
        self.scheduler.shutdown(wait=False)  # cancels whatever is still running
        if late:
            await asyncio.wait(late, timeout=1)  # let the cancellations unwind before cleanup


JOBS: web.AppKey[Jobs] = web.AppKey("jobs")


def mount(app: web.Application, runtime: Runtime) -> None:
    """Check the schedule now (a bad one stops start-up), run it with the app, stop it first
    on shutdown."""
    jobs = Jobs(runtime)
    app[JOBS] = jobs

    async def start(_: web.Application) -> None:
        jobs.start()

    async def stop(_: web.Application) -> None:
        await jobs.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
