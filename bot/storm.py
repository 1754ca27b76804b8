"""Alert storms: a per-channel posting pace, and the summary boards that take over when
claims arrive faster than a channel may be posted to.

Chat platforms allow about one message per second per channel. Posting one claim per alert
in a storm would queue claims for minutes; instead, past the pace, a channel gets one summary
message (a board) that is updated in place with who holds what, so every alert is attributed
to a named person at once while the platform receives few messages."""

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
        tokens = min(float(self.burst), tokens + (now - at).total_seconds() * self.rate)
        self._tokens[key] = (tokens, now)
        return tokens

    def take(self, key: Hashable) -> bool:
        """Use one post if the pace allows it now."""
        tokens = self._level(key)
        if tokens < 1:
            return False
        self._tokens[key] = (tokens - 1, self._tokens[key][1])
        return True

    def spend(self, key: Hashable) -> None:
        """Count a post that goes out regardless (it will be queued by the adapter)."""
        tokens = self._level(key)
        self._tokens[key] = (max(-float(self.burst), tokens - 1), self._tokens[key][1])


@dataclass
class Board:
    """One channel's storm summary: its message, and whether it needs an update."""

    created: datetime
    touched: datetime
    message: asyncio.Future[MessageRef] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    dirty: bool = True
    updated: datetime | None = None


class Boards:
    """The live boards of this process, by channel, and by message for updates."""

    def __init__(self, *, clock: Clock, quiet: timedelta, interval: timedelta) -> None:
        self.clock = clock
        self.quiet = quiet
        self.interval = interval
        self._by_channel: dict[tuple[str, str], Board] = {}
        self._by_message: dict[tuple[str, str, str], Board] = {}

    def current(self, channel: tuple[str, str]) -> Board | None:
        """The board a storm in this channel is adding to, if it is still live."""
        board = self._by_channel.get(channel)
        if board is None or self.clock.now() - board.touched > self.quiet:
            return None
        return board

    def start(self, channel: tuple[str, str]) -> Board:
        """Open a new board for a channel; the caller posts it and resolves `message`."""
        now = self.clock.now()
        board = Board(created=now, touched=now)
        self._by_channel[channel] = board
        return board

    def posted(self, board: Board, message: MessageRef) -> None:
        """Record where a board lives."""
        board.message.set_result(message)
        self._by_message[(message.platform, message.channel, message.id)] = board

    def failed(self, channel: tuple[str, str], board: Board, error: BaseException) -> None:
        """A board could not be posted: waiters see the error and the next alert retries."""
        if self._by_channel.get(channel) is board:
            del self._by_channel[channel]
        board.message.set_exception(error)
        board.message.exception()  # mark retrieved: waiters re-raise it themselves

    def touch(self, message: MessageRef) -> None:
        """Something on the board changed; it is redrawn by the next flush."""
        board = self._by_message.get((message.platform, message.channel, message.id))
        if board is None:  # a board from before a restart: adopt it
            now = self.clock.now()
            board = Board(created=now, touched=now)
            board.message.set_result(message)
            self._by_message[(message.platform, message.channel, message.id)] = board
        board.dirty = True
        board.touched = self.clock.now()

    def due(self) -> list[MessageRef]:
        """Boards to redraw now: changed, and not redrawn within `interval`."""
        now = self.clock.now()
        found = []
        for board in self._by_message.values():
            if board.dirty and (board.updated is None or now - board.updated >= self.interval):
                found.append(board.message.result())
        return found

    def drawn(self, message: MessageRef) -> None:
        """A board was redrawn; forget boards idle for long."""
        now = self.clock.now()
        board = self._by_message.get((message.platform, message.channel, message.id))
        if board is not None:
            board.dirty = False
            board.updated = now
        for key, b in list(self._by_message.items()):
            if not b.dirty and now - b.touched > self.quiet * 10:
                del self._by_message[key]
