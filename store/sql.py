"""SQL helpers shared by the store modules."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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
