"""The writer lock of a SQLite file: one writing transaction at a time in this process, in
arrival order, except that urgent writers go first. The inbox's group commit is urgent: a
platform is waiting for its answer, while every other writer is background work (a worker's
batch, a claim post, the escalation tick) that can wait one transaction longer."""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class WriterLock:
    """An asyncio lock with two queues; `async with lock` waits in the normal one."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for the lock; urgent waiters are served before normal ones."""
        if not self._held and not self._urgent and not self._normal:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._normal
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter (urgent first), or free it."""
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # ownership passes without being freed
                    return
        self._held = False

    def locked(self) -> bool:
        """Whether a writer holds it."""
        return self._held

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
