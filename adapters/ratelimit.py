"""One rate-limit policy for every chat platform (HTTP 429).

A platform that says "too many requests, retry after N seconds" is waited on, never dropped;
but a call may wait only within its budget, a deadline shorter than the core's lease on what
it sends (a claim post, an escalation step). Past the budget the call fails with a
PlatformError, the lease lapses, and the work is tried again later, instead of being sent a
second time by a worker that took the lapsed lease over. Every 429 is counted in the
`accountability_rate_limited_total{platform}` metric.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.ports import PlatformError

log = logging.getLogger(__name__)


class RateLimited(PlatformError):
    """A platform kept rate-limiting a call past the call's budget."""

    def __init__(self, platform: str, what: str, wait: float) -> None:
        super().__init__(
            f"{platform} rate-limited {what} for {wait:.0f}s, longer than the call may wait; "
            "it is retried later"
        )
        self.wait = wait


class RateLimits:
    """The 429 policy of one platform: a per-call deadline, counted waits, a clear failure."""

    def __init__(
        self,
        *,
        platform: str,
        budget: float | None,
        on_limited: Callable[[], None] | None = None,
    ) -> None:
        self.platform = platform
        self.budget = budget  # seconds one call may spend waiting (None: unbounded)
        self._on_limited = on_limited
        self._deadline: ContextVar[float | None] = ContextVar(
            f"{platform}_call_deadline", default=None
        )

    @contextmanager
    def call(self) -> Iterator[float | None]:
        """Run one platform call within the budget; yields its deadline (event-loop time)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.budget if self.budget is not None else None
        token = self._deadline.set(deadline)
        try:
            yield deadline
        finally:
            self._deadline.reset(token)

    def deadline(self) -> float | None:
        """The deadline of the call in progress (None outside `call` or without a budget)."""
        return self._deadline.get()

    def count(self) -> None:
        """Count one 429 in the metric."""
        if self._on_limited is not None:
            self._on_limited()

    def limited(self, *, wait: float, what: str) -> bool:
        """A 429 asking to wait `wait` seconds: count it; True when the call may wait that long."""
        self.count()
        deadline = self.deadline()
        if deadline is not None and asyncio.get_running_loop().time() + wait > deadline:
            log.warning(
                "%s rate limited %s for %.0fs, longer than this call may wait; "
                "leaving it to be retried",
                self.platform,
                what,
                wait,
            )
            return False
        log.info("%s rate limited %s; waiting %.1fs (Retry-After)", self.platform, what, wait)
        return True

    async def wait_or_fail(self, *, wait: float, what: str) -> None:
        """Wait out a 429 within the budget, or raise RateLimited."""
        if not self.limited(wait=wait, what=what):
            raise RateLimited(self.platform, what, wait)
        await asyncio.sleep(wait)
