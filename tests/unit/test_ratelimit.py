"""The one HTTP 429 policy every platform follows: wait Retry-After within the call's budget,
count every 429, and fail clearly (a PlatformError) past the budget."""

from __future__ import annotations

import asyncio

import pytest

from adapters.ratelimit import RateLimited, RateLimits
from bot.ports import PlatformError


async def test_a_wait_within_the_budget_is_waited_and_counted() -> None:
    counted: list[int] = []
    limits = RateLimits(platform="teams", budget=5.0, on_limited=lambda: counted.append(1))
    loop = asyncio.get_running_loop()
    with limits.call():
        started = loop.time()
        await limits.wait_or_fail(wait=0.05, what="a post")
    assert loop.time() - started >= 0.04
    assert counted == [1]


async def test_a_wait_past_the_budget_fails_clearly_and_is_counted() -> None:
    counted: list[int] = []
    limits = RateLimits(platform="teams", budget=0.5, on_limited=lambda: counted.append(1))
    loop = asyncio.get_running_loop()
    with limits.call():
        started = loop.time()
        with pytest.raises(RateLimited) as refused:
            await limits.wait_or_fail(wait=120, what="a post")
    assert loop.time() - started < 0.1  # refused at once, not after waiting
    assert isinstance(refused.value, PlatformError)
    assert "teams rate-limited a post for 120s" in str(refused.value)
    assert counted == [1]


async def test_each_call_gets_its_own_budget_and_none_outside_a_call() -> None:
    limits = RateLimits(platform="slack", budget=10.0)
    assert limits.deadline() is None
    loop = asyncio.get_running_loop()
    with limits.call() as first:
        assert first is not None and first <= loop.time() + 10.0
        assert limits.deadline() == first
    assert limits.deadline() is None
    assert limits.limited(wait=3600, what="anything") is True  # outside a call: no deadline


async def test_without_a_budget_any_wait_is_allowed() -> None:
    limits = RateLimits(platform="slack", budget=None)
    with limits.call() as deadline:
        assert deadline is None
        assert limits.limited(wait=3600, what="a post") is True
