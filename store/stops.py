"""Stop and resume requests, and whether each system is stopped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from bot.domain import StopRequest, SystemStatus
from store.sql import SessionRepository, changed, dialect_insert, table
from store.tables import StopRequestRow, SystemStateRow

REQUESTS = table(StopRequestRow)
SYSTEM_STATE = table(SystemStateRow)
request = REQUESTS.c


class SqlStops(SessionRepository):
    """Implements bot.storage.Stops."""

    async def add_request(
        self,
        *,
        system: str,
        kind: str,
        requested_by: str,
        user_id: str,
        platform: str,
        reason: str,
        channel: str | None,
        at: datetime,
    ) -> StopRequest:
        """Record a stop or resume awaiting the holder's confirmation."""
        request_id = (
            await self.session.execute(
                insert(REQUESTS)
                .values(
                    system=system,
                    kind=kind,
                    requested_by=requested_by,
                    user_id=user_id,
                    platform=platform,
                    reason=reason,
                    channel=channel,
                    state="requested",
                    requested_at=at,
                    result="",
                )
                .returning(request.id)
            )
        ).scalar_one()
        found = await self.get_request(request_id=request_id)
        assert found is not None
        return found

    async def get_request(self, *, request_id: int) -> StopRequest | None:
        """One stop request by id."""
        found = await self._select(request.id == request_id)
        return found[0] if found else None

    async def requests(self, *, state: str, before: datetime) -> list[StopRequest]:
        """Stop requests in `state` since before `before` (for expiry sweeps)."""
        return await self._select(
            request.state == state, func.coalesce(request.updated_at, request.requested_at) < before
        )

    async def _select(self, *conditions: Any) -> list[StopRequest]:
        rows = await self.session.execute(select(REQUESTS).where(*conditions).order_by(request.id))
        return [
            StopRequest(
                id=r.id,
                system=r.system,
                kind=r.kind,
                requested_by=r.requested_by,
                user_id=r.user_id,
                platform=r.platform,
                reason=r.reason,
                state=r.state,
                requested_at=r.requested_at,
                channel=r.channel,
            )
            for r in rows
        ]

    async def move_request(
        self, *, request_id: int, from_state: str, to_state: str, at: datetime, result: str = ""
    ) -> bool:
        """Conditional state change; False when another click got there first."""
        done = await self.session.execute(
            update(REQUESTS)
            .where(request.id == request_id, request.state == from_state)
            .values(state=to_state, updated_at=at, result=result)
        )
        return changed(done) > 0

    async def set_status(self, *, system: str, stopped: bool, at: datetime, by: str) -> None:
        """Record that a system was stopped or resumed."""
        stmt = dialect_insert(self.session, SYSTEM_STATE).values(
            system=system, stopped=stopped, changed_at=at, changed_by=by
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["system"],
                set_={"stopped": stopped, "changed_at": at, "changed_by": by},
            )
        )

    async def status(self, *, system: str) -> SystemStatus:
        """Whether a system is stopped."""
        table = SYSTEM_STATE
        r = (await self.session.execute(select(table).where(table.c.system == system))).first()
        if r is None:
            return SystemStatus(system, False)
        return SystemStatus(system, r.stopped, r.changed_at, r.changed_by)
