"""Hourly housekeeping, run from the escalation tick: stop actions whose worker died mid-run
are failed on the record (and said so), and delivery ids no platform will retry any more are
forgotten."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.context import Context
from bot.domain import BOT

STOP_STUCK_AFTER = timedelta(hours=1)  # longer than any action timeout: its worker is gone
SEEN_EVENTS_KEPT = timedelta(days=2)  # longer than any platform keeps retrying a delivery
EVERY = timedelta(hours=1)


class Housekeeping:
    """Runs at most once an hour per process."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._last: datetime | None = None

    async def run(self, now: datetime) -> None:
        """Fail stuck stop actions and forget old delivery ids, if an hour has passed."""
        if self._last is not None and now - self._last < EVERY:
            return
        self._last = now
        async with self.context.store.transaction() as tx:
            for request in await tx.stops.requests(state="running", before=now - STOP_STUCK_AFTER):
                summary = "no result was recorded: the bot stopped while the action ran; check it"
                if await tx.stops.move_request(
                    request_id=request.id,
                    from_state="running",
                    to_state="failed",
                    at=now,
                    result=summary,
                ):
                    await tx.evidence.append(
                        at=now,
                        actor=BOT,
                        action=f"{request.kind}.failed",
                        system=request.system,
                        alert_id=None,
                        detail={"request": request.id, "result": summary},
                    )
            await tx.alerts.forget_events_before(before=now - SEEN_EVENTS_KEPT)
