"""The scheduler inside `serve`: APScheduler's asyncio scheduler with its in-memory job store
(its docs forbid sharing a job store between processes; our state lives in our own tables)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from adapters.server import Runtime

log = logging.getLogger(__name__)


def mount(app: web.Application, runtime: Runtime) -> None:
    """Start the escalation tick with the app and stop it on shutdown."""
    scheduler = AsyncIOScheduler(timezone=runtime.settings.tz)

    async def tick() -> None:
        try:
            report = await runtime.service.tick()
        except Exception:
            log.exception("escalation tick failed; due steps stay due")
            return
        if report.sent:
            log.info("escalation steps sent", extra={"count": len(report.sent)})

    async def start(_: web.Application) -> None:
        scheduler.add_job(
            tick,
            "interval",
            seconds=runtime.settings.escalation_tick.total_seconds(),
            max_instances=1,
            coalesce=True,
            id="escalation-tick",
        )
        scheduler.start()

    async def stop(_: web.Application) -> None:
        scheduler.shutdown(wait=False)

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
