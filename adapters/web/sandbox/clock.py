"""The sandbox clock: real time plus an offset that the page moves forward, so escalation
steps and stale-ownership findings come due in seconds. It implements `bot.ports.Clock`; only
the sandbox builds one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_OFFSET = timedelta(days=3650)  # far enough for any review period; dates stay printable


class SandboxClock:
    """Wall-clock UTC moved forward by `offset`. It never goes back: stored times stay in
    order, as they do in production."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        """Real time plus the offset."""
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by `delta` (refused when negative or past ten years)."""
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        if self.offset + delta > MAX_OFFSET:
            raise ValueError("the sandbox clock moves at most ten years ahead")
        self.offset += delta
        return self.now()
