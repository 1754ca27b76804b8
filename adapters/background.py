"""One runner for work done after a platform has its answer (Slack wants one within 3 s,
Teams within a few): posting a claim, answering a click or a command. Every platform's
adapter spawns into the runtime's one runner; at shutdown it is drained with a grace period
and what is still running is cancelled (leases bring that work back on the next tick)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger(__name__)


class Background:
    """Tasks started after answering; failures are logged, never raised to the caller."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[object], *, what: str) -> None:
        """Run `work` in the background."""

        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("background work failed: %s", what)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, within: float | None = None) -> bool:
        """Wait for the work (and the work it starts); False if some is still running after
        `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def close(self, grace: float = 10.0) -> None:
        """At shutdown: let running work finish within `grace`, then cancel the rest."""
        if await self.drain(within=grace):
            return
        log.warning("background work still running at shutdown; cancelled, leases retry it")
        late = set(self._tasks)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
