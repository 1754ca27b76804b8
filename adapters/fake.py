"""An in-memory chat platform and a hand-moved clock, shipped with the code so that tests,
benchmarks and local experiments drive the real core without a network."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.cards import Card
from bot.domain import AlertTaken, MessageRef, UserRef
from bot.events import AlertSeen
from bot.ports import PlatformError, Unreachable
from bot.service import AccountabilityService


@dataclass
class Sent:
    """One thing the bot sent: a channel post, an update in place, or a direct message."""

    kind: str  # "post" | "update" | "direct"
    channel: str
    card: Card
    message: MessageRef
    thread: str | None = None
    user: UserRef | None = None


@dataclass
class FakeUser:
    """A member of the fake workspace."""

    id: str
    email: str
    active: bool = True
    reachable: bool = True


@dataclass
class InMemoryPlatform:
    """Records every post, update and direct message; knows a small user directory."""

    name: str = "slack"
    users: dict[str, FakeUser] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    fail_posts: int = 0  # the next N posts raise PlatformError
    fail_updates: int = 0  # the next N updates raise PlatformError
    fail_lookups: int = 0  # the next N user lookups raise PlatformError
    fail_directs: int = 0  # the next N direct messages raise a passing PlatformError
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_user(self, user_id: str, email: str, *, active: bool = True) -> None:
        """Add a member to the directory."""
        self.users[user_id] = FakeUser(user_id, email, active)

    def _next(self, channel: str, thread: str | None) -> MessageRef:
        return MessageRef(self.name, channel, f"{next(self._ids)}.0001", thread)

    async def post(self, *, channel: str, card: Card, thread: str | None = None) -> MessageRef:
        """Record a channel post (or thread reply)."""
        if self.fail_posts:
            self.fail_posts -= 1
            raise PlatformError("fake platform told to fail")
        ref = self._next(channel, thread)
        self.sent.append(Sent("post", channel, card, ref, thread))
        return ref

    async def update(self, *, message: MessageRef, card: Card) -> None:
        """Record an update in place."""
        if self.fail_updates:
            self.fail_updates -= 1
            raise PlatformError("message_not_found")
        self.sent.append(Sent("update", message.channel, card, message, message.thread))

    async def direct(self, *, user: UserRef, card: Card) -> MessageRef:
        """Record a direct message; unreachable users raise Unreachable, and the next
        `fail_directs` messages a passing PlatformError."""
        known = self.users.get(user.id)
        if known is not None and not known.reachable:
            raise Unreachable(f"cannot open a conversation with {user.id}")
        if self.fail_directs:
            self.fail_directs -= 1
            raise PlatformError("fake platform is failing (5xx)")
        ref = self._next(f"D-{user.id}", None)
        self.sent.append(Sent("direct", ref.channel, card, ref, None, user))
        return ref

    def _lookup(self) -> None:
        if self.fail_lookups:
            self.fail_lookups -= 1
            raise PlatformError("ratelimited")

    async def find_user(self, *, email: str) -> UserRef | None:
        """Look a member up by email."""
        self._lookup()
        for u in self.users.values():
            if u.email.lower() == email.lower():
                return UserRef(self.name, u.id)
        return None

    async def user_email(self, *, user: UserRef) -> str | None:
        """The email of a member."""
        self._lookup()
        found = self.users.get(user.id)
        return found.email if found else None

    async def user_active(self, *, user: UserRef) -> bool | None:
        """Whether a member is active; None for strangers."""
        found = self.users.get(user.id)
        return found.active if found else None

    # ---- what tests ask -----------------------------------------------------------------

    def posts(self, kind: str | None = None) -> list[Sent]:
        """Everything sent, optionally of one kind."""
        return [s for s in self.sent if kind is None or s.kind == kind]

    def directs_to(self, user_id: str) -> list[Sent]:
        """Direct messages to one user."""
        return [s for s in self.sent if s.kind == "direct" and s.user and s.user.id == user_id]


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The current fake time."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward and return the new time."""
        self._now += delta
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to a time."""
        self._now = at


async def deliver(service: AccountabilityService, event: AlertSeen) -> AlertTaken:
    """Deliver an inbound message the way every chat adapter does: admit and store it (the
    platform would be answered here), then post or update its claim. Tests and benchmarks
    drive the core through this, the production path, never around it."""
    taken = await service.take_alert(event)
    await service.publish(taken)
    return taken
