"""The sandbox clock: real time plus an offset that the page moves forward, so escalation
steps and stale-ownership findings come due in seconds. It implements `bot.ports.Clock`; only
the sandbox builds one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.ports import Clock

MAX_OFFSET = timedelta(days=3650)  # far enough for any review period; dates stay printable


class SandboxClock:
    """Another clock (wall-clock UTC by default) moved forward by `offset`. It never goes
    back: stored times stay in order, as they do in production."""

    def __init__(self, base: Clock | None = None) -> None:
        self.base = base
        self.offset = timedelta(0)

    def now(self) -> datetime:
        """The base clock's time plus the offset."""
        return (self.base.now() if self.base else datetime.now(UTC)) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by `delta` (refused when negative or past ten years)."""
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        if self.offset + delta > MAX_OFFSET:
            raise ValueError("the sandbox clock moves at most ten years ahead")
        self.offset += delta
        return self.now()
