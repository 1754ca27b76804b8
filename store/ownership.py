"""Role confirmations: when each role holder last said "still mine"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from store.sql import SessionRepository, table
from store.tables import ConfirmationRow

CONFIRMATIONS = table(ConfirmationRow)


class SqlOwnership(SessionRepository):
    """Implements bot.storage.Ownership."""

    async def confirm(self, *, system: str, role: str, person: str, at: datetime) -> None:
        """A role holder said "still mine"."""
        await self.session.execute(
            insert(CONFIRMATIONS).values(system=system, role=role, person=person, at=at)
        )

    async def confirmations(self, *, system: str) -> dict[str, tuple[str, datetime]]:
        """Role -> (person, when) of the latest confirmation of each role."""
        confirmation = CONFIRMATIONS.c
        rows = await self.session.execute(
            select(confirmation.role, confirmation.person, confirmation.at)
            .where(confirmation.system == system)
            .order_by(confirmation.at, confirmation.id)
        )
        return {r.role: (r.person, r.at) for r in rows}
