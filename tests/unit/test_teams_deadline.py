"""Issue 11 item 11: Teams calls obey the same deadline rule as Slack (adapters.ratelimit): a
call waits out HTTP 429 only within its budget, a third of the lease on what it sends, so a
claim or an escalation step can never be taken over and sent again while a call still waits.
Simulated time: an event loop whose clock jumps to the next timer instead of sleeping, so
two-minute Retry-After answers cost nothing to test."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import requests

from adapters.ratelimit import RateLimited, RateLimits
from adapters.runtime import LEASE
from adapters.teams import connector
from adapters.teams.connector import connector_call


class _JumpingSelector(selectors.DefaultSelector):
    """Never blocks: when nothing is ready, the loop's clock jumps by the timeout instead."""

    def __init__(self) -> None:
        super().__init__()
        self.clock: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if not ready and timeout and self.clock is not None:
            self.clock.virtual += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """asyncio with simulated time."""

    def __init__(self) -> None:
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.clock = self
        self.virtual = 0.0

    def time(self) -> float:
        return self.virtual


def _throttled(retry_after: str) -> Exception:
    """What msrest raises when the Bot Framework connector answers 429 (the class the
    connector catches; SDK imports stay inside adapters/teams)."""
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = retry_after
    response._content = b'{"error": {"code": "TooManyRequests"}}'
    error: Exception = connector.HttpOperationError(None, response)
    return error


def _connector(answers: list[str | None]) -> tuple[Callable[[], Awaitable[str]], list[float]]:
    """A connector that answers 429 with each Retry-After given (None: success), noting when
    each attempt was made."""
    attempts: list[float] = []

    async def call() -> str:
        attempts.append(asyncio.get_running_loop().time())
        answer = answers.pop(0) if answers else "3"
        if answer is None:
            return "sent"
        raise _throttled(answer)

    return call, attempts


def _run(answers: list[str | None]) -> tuple[Any, list[float], float]:
    loop = VirtualTimeLoop()
    limits = RateLimits(platform="teams", budget=LEASE.total_seconds() / 3)
    call, attempts = _connector(answers)

    async def main() -> Any:
        try:
            return await connector_call(call, what="a post", limits=limits)
        except RateLimited as exc:
            return exc

    try:
        result = loop.run_until_complete(main())
        return result, attempts, loop.time()
    finally:
        loop.close()


def test_endless_throttling_gives_up_within_the_budget_not_after_minutes() -> None:
    # Before: up to 8 retries of up to 120 s each, no overall deadline (16 minutes here)
    result, attempts, elapsed = _run(["120"] * 8)
    assert isinstance(result, RateLimited)
    assert attempts == [0.0]  # 120 s is past the budget: not even one wait
    assert elapsed < LEASE.total_seconds()


def test_short_waits_add_up_to_no_more_than_the_budget() -> None:
    result, attempts, elapsed = _run(["4"] * 20)
    assert isinstance(result, RateLimited)
    assert attempts == pytest.approx([0.0, 4.0, 8.0])  # a third wait would end past 10 s
    assert elapsed <= LEASE.total_seconds() / 3 < LEASE.total_seconds()


def test_throttling_within_the_budget_is_waited_out_and_nothing_is_lost() -> None:
    result, attempts, elapsed = _run(["2", "3", None])
    assert result == "sent"
    assert attempts == pytest.approx([0.0, 2.0, 5.0])
    assert elapsed == pytest.approx(5.0)
