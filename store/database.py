"""Engines, the transaction-owning Store, and migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from store.serial import WriterLock
from store.transaction import SqlTransaction

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """Accept what hosting platforms hand out (`postgres://`, `postgresql://`, `sqlite:///`)
    and name the async driver SQLAlchemy needs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+psycopg",
        "postgresql+psycopg2": "postgresql+psycopg",
        "postgresql+asyncpg": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
        "sqlite+pysqlite": "sqlite+aiosqlite",
    }.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def redacted(url: str) -> str:
    """A URL fit for logs: no password."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block the writer."""
    engine = create_async_engine(async_url(url), pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            # WAL with NORMAL sync survives a process crash; only an OS crash can lose the
            # last commits, and each commit then costs no fsync.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


class SqlStore:
    """Implements bot.storage.Store: one transaction per `async with`, committed on success.

    SQLite allows one writer at a time; rather than let concurrent tasks collide on
    `database is locked`, its transactions queue on a WriterLock (one replica per file).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._serial = WriterLock() if engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        """Open a transaction; it commits when the block ends without an exception."""
        if self._serial is None:
            async with self._sessions() as session, session.begin():
                tx = SqlTransaction(session)
                yield tx
                await tx.flush()
            return
        async with self._serial, self._sessions() as session, session.begin():
            tx = SqlTransaction(session)
            yield tx
            await tx.flush()

    @property
    def writer_lock(self) -> WriterLock | None:
        """On SQLite, the lock its transactions queue on; the inbox's group commit takes it
        too (urgently), rather than poll SQLite's busy handler. None on PostgreSQL."""
        return self._serial

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not healthy"
            return False
        return True

    async def close(self) -> None:
        """Release every pooled connection."""
        await self.engine.dispose()


def _alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas starting together must not run the same migration twice.
        connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
    command.upgrade(_alembic_config(connection), "heads")


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def open_store(url: str, *, run_migrations: bool = True) -> SqlStore:
    """Connect (and by default migrate) a store."""
    engine = make_engine(url)
    if run_migrations:
        await migrate(engine)
    return SqlStore(engine)
