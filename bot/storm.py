"""Alert storms: a per-channel posting pace, the summary boards that take over when claims
arrive faster than a channel may be posted to, and coalesced redraws of messages.

Chat platforms allow about one message per second per channel. Posting one claim per alert
in a storm would queue claims for minutes; instead, past the pace, a channel gets one board
message that is updated in place with who holds what, so every alert is attributed to a named
person at once while the platform receives few messages. Repeats and board changes mark a
message for redraw; redraws happen at most once per interval per message."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain import MessageRef
from bot.ports import Clock


class Pace:
    """A token bucket per key: `rate` posts per second with bursts of `burst`."""

    def __init__(self, *, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens: dict[Hashable, tuple[float, datetime]] = {}

    def _level(self, key: Hashable) -> float:
        now = self.clock.now()
        tokens, at = self._tokens.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at).total_seconds() * self.rate)

    def take(self, key: Hashable) -> bool:
        """Use one post if the pace allows it now."""
        tokens = self._level(key)
        if tokens < 1:
            return False
        self._tokens[key] = (tokens - 1, self.clock.now())
        return True


@dataclass
class Board:
    """One channel's storm summary message, posted once and shared by every waiter."""

    touched: datetime
    message: asyncio.Future[MessageRef] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Boards:
    """The live storm board of each channel in this process."""

    def __init__(self, *, clock: Clock, quiet: timedelta) -> None:
        self.clock = clock
        self.quiet = quiet
        self._by_channel: dict[tuple[str, str], Board] = {}

    def current(self, channel: tuple[str, str]) -> Board | None:
        """The board a storm in this channel adds to, while alerts keep coming."""
        board = self._by_channel.get(channel)
        if board is None or self.clock.now() - board.touched > self.quiet:
            return None
        board.touched = self.clock.now()
        return board

    def start(self, channel: tuple[str, str]) -> Board:
        """Open a board; the caller posts it and resolves `message`."""
        board = Board(touched=self.clock.now())
        self._by_channel[channel] = board
        return board

    def failed(self, channel: tuple[str, str], board: Board, error: BaseException) -> None:
        """The board could not be posted: waiters get the error, the next alert retries."""
        if self._by_channel.get(channel) is board:
            del self._by_channel[channel]
        if not board.message.done():
            board.message.set_exception(error)
            board.message.exception()  # retrieved here; each waiter re-raises it


class Redraws:
    """Messages whose content changed, redrawn at most once per `interval` each."""

    def __init__(self, *, clock: Clock, interval: timedelta) -> None:
        self.clock = clock
        self.interval = interval
        self._dirty: dict[MessageRef, datetime | None] = {}
        self._drawn: dict[MessageRef, datetime] = {}
        self._failures: dict[MessageRef, int] = {}

    def mark(self, message: MessageRef) -> None:
        """Something shown on this message changed."""
        self._dirty.setdefault(message, self._drawn.get(message))

    def due(self) -> list[MessageRef]:
        """Messages to redraw now."""
        now = self.clock.now()
        return [m for m, last in self._dirty.items() if last is None or now - last >= self.interval]

    def failed(self, message: MessageRef, *, attempts: int = 3) -> None:
        """A redraw failed: try again later, but not forever (a deleted message stays gone)."""
        self._failures[message] = self._failures.get(message, 0) + 1
        if self._failures[message] < attempts:
            self._dirty[message] = self.clock.now()
        else:
            del self._failures[message]
            self._dirty.pop(message, None)

    def drawn(self, message: MessageRef) -> None:
        """A message was redrawn."""
        self._dirty.pop(message, None)
        self._failures.pop(message, None)
        now = self.clock.now()
        self._drawn[message] = now
        for m, at in list(self._drawn.items()):
            if now - at > self.interval * 30:
                del self._drawn[m]
