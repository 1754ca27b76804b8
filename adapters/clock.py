"""The production clock (tests use adapters.fake.ManualClock)."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Wall-clock UTC; implements bot.ports.Clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)
