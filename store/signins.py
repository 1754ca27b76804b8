"""Console sign-in: one-time links and the sessions they open, stored by hash only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from store.tables import ConsoleLinkRow, ConsoleSessionRow


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


LINK = _table(ConsoleLinkRow)
SESSION = _table(ConsoleSessionRow)

LinkState = Literal["ok", "used", "expired", "unknown"]


class SignIns:
    """Implements bot.console_link.SignInLinks, and uses links to open sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_link(
        self, *, token_hash: str, person: str, at: datetime, expires_at: datetime
    ) -> None:
        """Record a link issued to `person`; drop links and sessions long past their end."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(LINK).where(LINK.c.expires_at < at - timedelta(days=1)))
            await conn.execute(delete(SESSION).where(SESSION.c.expires_at < at))
            await conn.execute(
                insert(LINK).values(
                    token_hash=token_hash, person=person, created_at=at, expires_at=expires_at
                )
            )

    async def link_state(self, *, token_hash: str, now: datetime) -> tuple[LinkState, str | None]:
        """Whether a link would sign in now, without using it; and whose it is."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(LINK).where(LINK.c.token_hash == token_hash))).first()
        return _link_state(row, now)

    async def sign_in(
        self, *, link_hash: str, session_hash: str, now: datetime, lifetime: timedelta
    ) -> tuple[LinkState, str | None]:
        """Use a link once and open a session for its person, in one transaction: of two
        browsers racing with one link, exactly one is signed in."""
        async with self.engine.begin() as conn:
            used = await conn.execute(
                update(LINK)
                .where(
                    LINK.c.token_hash == link_hash,
                    LINK.c.used_at.is_(None),
                    LINK.c.expires_at > now,
                )
                .values(used_at=now)
            )
            row = (await conn.execute(select(LINK).where(LINK.c.token_hash == link_hash))).first()
            if int(cast(Any, used).rowcount) != 1 or row is None:
                state, person = _link_state(row, now)
                return ("used" if state == "ok" else state), person
            await conn.execute(
                insert(SESSION).values(
                    token_hash=session_hash,
                    person=row.person,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
            return "ok", str(row.person)

    async def session_person(self, *, token_hash: str, now: datetime) -> str | None:
        """The person a live session belongs to, or None."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(SESSION.c.person).where(
                        SESSION.c.token_hash == token_hash, SESSION.c.expires_at > now
                    )
                )
            ).first()
        return None if row is None else str(row.person)

    async def end_session(self, *, token_hash: str) -> None:
        """Sign a browser out."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(SESSION).where(SESSION.c.token_hash == token_hash))


def _link_state(row: Any, now: datetime) -> tuple[LinkState, str | None]:
    if row is None:
        return "unknown", None
    if row.used_at is not None:
        return "used", str(row.person)
    if row.expires_at <= now:
        return "expired", str(row.person)
    return "ok", str(row.person)
