"""The small typed interfaces through which the core reaches the world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.cards import Card
from bot.domain import (
    MessageRef,
    UserRef,
)
from bot.registry import CommandAction, WebhookAction


class PlatformError(Exception):
    """A chat platform refused or failed a call (after the adapter's own retries)."""


class Unreachable(PlatformError):
    """A definite answer: this person or place cannot be reached (no such user, messages
    refused, the bot not in the channel). Recorded and shown to a person; any other
    PlatformError is a passing failure that delays the work and never drops it."""


class Clock(Protocol):
    """Where the core reads the time; tests inject a clock they move by hand."""

    def now(self) -> datetime: ...


class ChatPlatform(Protocol):
    """One chat platform as the core sees it. Adapters pace and retry (HTTP 429) themselves."""

    name: str

    async def post(self, *, channel: str, card: Card, thread: str | None = None) -> MessageRef:
        """Post a card in a channel, or as a reply in `thread`."""
        ...

    async def update(self, *, message: MessageRef, card: Card) -> None:
        """Replace a message the bot posted."""
        ...

    async def direct(self, *, user: UserRef, card: Card) -> MessageRef:
        """Send a card to one person directly; PlatformError when they cannot be reached."""
        ...

    async def find_user(self, *, email: str) -> UserRef | None:
        """The platform user with this email, or None."""
        ...

    async def user_email(self, *, user: UserRef) -> str | None:
        """The email of a platform user, or None when the platform does not say."""
        ...

    async def user_active(self, *, user: UserRef) -> bool | None:
        """False when the platform says the user is deactivated; None when it cannot tell."""
        ...


@dataclass(frozen=True)
class ClaimTag:
    """What identifies an alert's claim message on the platform, so a worker that takes over
    a lapsed posting lease finds a claim posted before a crash instead of posting it again."""

    alert_id: int
    opened_at: datetime  # with the id: an alert of another install (database) differs


@runtime_checkable
class TaggedPosts(Protocol):
    """Optional ChatPlatform capability: posts carrying a ClaimTag, found again later. Teams
    has no search of a conversation by metadata, so only Slack offers it."""

    async def post(
        self, *, channel: str, card: Card, thread: str | None = None, tag: ClaimTag | None = None
    ) -> MessageRef:
        """Post a card, carrying `tag` when given."""
        ...

    async def find_tagged(
        self, *, channel: str, thread: str | None, tag: ClaimTag
    ) -> MessageRef | None:
        """The bot's recent message carrying `tag` in the thread (or channel), or None."""
        ...


class Observer(Protocol):
    """Receives what the service did, for metrics. Must not raise or block."""

    def alert_taken(self, *, system: str | None, outcome: str) -> None:
        """An inbound alert was claimed, counted as a repeat, resolved, or ignored."""
        ...

    def escalation_sent(self) -> None:
        """One escalation step was sent."""
        ...

    def escalation_deferred(self) -> None:
        """A due step was not sent because the platform is failing; it stays due."""
        ...

    def acknowledged(self, *, seconds: float) -> None:
        """An alert was acknowledged this long after it opened."""
        ...

    def stop_ran(self, *, kind: str, ok: bool) -> None:
        """A stop or resume action ran."""
        ...


class NoObserver:
    """An Observer that ignores everything."""

    def alert_taken(self, *, system: str | None, outcome: str) -> None:
        """Ignore."""

    def escalation_sent(self) -> None:
        """Ignore."""

    def escalation_deferred(self) -> None:
        """Ignore."""

    def acknowledged(self, *, seconds: float) -> None:
        """Ignore."""

    def stop_ran(self, *, kind: str, ok: bool) -> None:
        """Ignore."""


@dataclass(frozen=True)
class ActionResult:
    """What a stop or resume action did."""

    ok: bool
    summary: str


class StopRunner(Protocol):
    """Runs a system's configured stop or resume action."""

    async def run(
        self, *, action: WebhookAction | CommandAction, payload: dict[str, object]
    ) -> ActionResult:
        """Run the action; never raises for the action's own failure, reports it instead."""
        ...
