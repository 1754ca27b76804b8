"""SQL helpers shared by the store modules."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

DialectInsert = postgresql.Insert | sqlite.Insert


def dialect_name(session: AsyncSession) -> str:
    """The database behind a session: "postgresql" or "sqlite" (the default when unbound)."""
    return session.bind.dialect.name if session.bind else "sqlite"


def dialect_insert(session: AsyncSession, table: Table) -> DialectInsert:
    """An INSERT for this session's database, with its ON CONFLICT clauses (PostgreSQL and
    SQLite spell them the same way but through different constructs)."""
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def table(model: type[SQLModel]) -> Table:
    """The SQLAlchemy table behind a SQLModel class."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def changed(result: Any) -> int:
    """Rows an UPDATE/INSERT/DELETE touched (CursorResult.rowcount; Result does not type it)."""
    return int(result.rowcount)


class SessionRepository:
    """Base of the aggregate repositories: one AsyncSession whose transaction the Store owns."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = dialect_name(session)
