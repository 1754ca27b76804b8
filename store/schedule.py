"""Which period of which scheduled job already ran.

Every replica's scheduler fires the stale-ownership scan at the same moment; the first to
insert `(job, period)` runs it and the others see the row and stand down. The primary key is
the whole guarantee, so it holds across replicas, restarts and both databases. The same row
also dedupes per-content work of the registry reload (one audit entry or admin warning per
file version, not one per replica).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Column, Table, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from store.sql import dialect_insert
from store.tables import UTCDateTime


class JobRunRow(SQLModel, table=True):
    """One run of a scheduled job for one period (a cron fire time, or a content hash)."""

    __tablename__ = "job_run"
    job: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=160)
    worker: str = Field(max_length=64)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))


JOB_RUN = cast(Table, JobRunRow.__table__)  # type: ignore[attr-defined]
J = JOB_RUN.c


async def claim_run(
    session: AsyncSession, *, job: str, period: str, worker: str, at: datetime
) -> bool:
    """Insert `(job, period)`; False when a row was already there (another replica ran it)."""
    stmt = (
        dialect_insert(session, JOB_RUN)
        .values(job=job, period=period, worker=worker[:64], started_at=at, summary="")
        .on_conflict_do_nothing(index_elements=["job", "period"])
        .returning(J.job)
    )
    # RETURNING, not rowcount: psycopg reports -1 for this composite-key insert.
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def finish_run(
    session: AsyncSession, *, job: str, period: str, at: datetime, summary: str
) -> None:
    """Record when and how a claimed run ended."""
    await session.execute(
        update(JOB_RUN)
        .where(J.job == job, J.period == period)
        .values(finished_at=at, summary=summary[:4000])
    )


async def last_run(
    session: AsyncSession, *, job: str, excluding: str | None = None
) -> datetime | None:
    """When the latest run of `job` started, leaving out the period `excluding`."""
    query = select(J.started_at).where(J.job == job)
    if excluding is not None:
        query = query.where(J.period != excluding)
    found: datetime | None = (
        await session.execute(query.order_by(J.started_at.desc()).limit(1))
    ).scalar_one_or_none()
    return found
