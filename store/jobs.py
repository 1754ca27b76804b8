"""Runs of scheduled jobs, one per period across replicas (rows of store.schedule)."""

from __future__ import annotations

from datetime import datetime

from store import schedule
from store.sql import SessionRepository


class SqlJobs(SessionRepository):
    """Implements bot.storage.Jobs."""

    async def claim_run(self, *, job: str, period: str, worker: str, at: datetime) -> bool:
        """Record that `worker` runs `job` for `period`; False when a replica already did."""
        return await schedule.claim_run(self.session, job=job, period=period, worker=worker, at=at)

    async def finish_run(self, *, job: str, period: str, at: datetime, summary: str) -> None:
        """Record when and how a claimed run ended."""
        await schedule.finish_run(self.session, job=job, period=period, at=at, summary=summary)

    async def last_run(self, *, job: str, excluding: str | None = None) -> datetime | None:
        """When the latest run of `job` started, leaving out the period `excluding`."""
        return await schedule.last_run(self.session, job=job, excluding=excluding)
