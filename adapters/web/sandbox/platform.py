"""The browser chat platform: channel timelines and each person's direct messages, kept in
memory for the pages to show. It implements `bot.ports.ChatPlatform`, so the core claims,
escalates and answers here exactly as it does on Slack and Teams.

A sandbox user is a registry person: their user id on this platform is their registry key,
and the platform reports the registry's email for it, so the core maps users to people by
email as it does for Slack users without a registry id.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.cards import Card
from bot.domain import MessageRef, UserRef
from bot.ports import Clock, PlatformError
from bot.registry import Person

PLATFORM = "web"
DIRECT_PREFIX = "D-"
MAX_ENTRIES = 2000  # per conversation: a sandbox left running for days stays small

Author = Literal["bot", "tool", "person"]


@dataclass
class Entry:
    """One message in a conversation: a card from the bot, a tool's alert, or a person's text.

    `visible_to` makes it an answer only that person sees (Slack's ephemeral messages)."""

    id: str
    conversation: str
    at: datetime
    author: Author
    by: str  # "accountability-bot", a tool's name, or a person key
    card: Card | None = None
    text: str = ""
    thread: str | None = None
    visible_to: str | None = None
    edits: int = 0
    source: Mapping[str, Any] | None = None  # the tool's own payload, shown on request
    replies: list[Entry] = field(default_factory=list)


def direct_conversation(person: str) -> str:
    """The conversation id of a person's direct messages with the bot."""
    return DIRECT_PREFIX + person


class WebPlatform:
    """Timelines in memory. Message ids carry a per-process prefix, so a claim stored by an
    earlier run never collides with a message of this one."""

    name = PLATFORM

    def __init__(self, *, people: Callable[[], Mapping[str, Person]], clock: Clock) -> None:
        self._people = people
        self.clock = clock
        self._prefix = secrets.token_hex(3)
        self._ids = itertools.count(1)
        self._conversations: dict[str, list[Entry]] = {}
        self._by_id: dict[str, Entry] = {}
        self.version = 0  # moves on every change; pages poll it
        self.unreachable: set[str] = set()  # people a direct message cannot reach (tests)

    # ---- the ChatPlatform port --------------------------------------------------------------

    async def post(self, *, channel: str, card: Card, thread: str | None = None) -> MessageRef:
        """Post a card from the bot in a channel, or as a reply in `thread`."""
        entry = self.add(
            conversation=channel, author="bot", by="accountability-bot", card=card, thread=thread
        )
        return MessageRef(PLATFORM, channel, entry.id, entry.thread)

    async def update(self, *, message: MessageRef, card: Card) -> None:
        """Replace a card in place; a message of an earlier run is reported as gone."""
        entry = self._by_id.get(message.id)
        if entry is None:
            raise PlatformError("message_not_found")
        entry.card = card
        entry.edits += 1
        self.version += 1

    async def direct(self, *, user: UserRef, card: Card) -> MessageRef:
        """A card in a person's direct messages."""
        if user.platform != PLATFORM or user.id not in self._people():
            raise PlatformError(f"no sandbox user {user.id}")
        if user.id in self.unreachable:
            raise PlatformError(f"cannot open a conversation with {user.id}")
        conversation = direct_conversation(user.id)
        entry = self.add(
            conversation=conversation, author="bot", by="accountability-bot", card=card
        )
        return MessageRef(PLATFORM, conversation, entry.id)

    async def find_user(self, *, email: str) -> UserRef | None:
        """The sandbox user of the registry person with this email."""
        wanted = email.lower()
        for key, person in self._people().items():
            if person.email.lower() == wanted:
                return UserRef(PLATFORM, key)
        return None

    async def user_email(self, *, user: UserRef) -> str | None:
        """The registry email of a sandbox user."""
        person = self._people().get(user.id)
        return person.email if person else None

    async def user_active(self, *, user: UserRef) -> bool | None:
        """Every registry person is an active sandbox user."""
        return user.id in self._people() or None

    # ---- what the pages do ------------------------------------------------------------------

    def add(
        self,
        *,
        conversation: str,
        author: Author,
        by: str,
        card: Card | None = None,
        text: str = "",
        thread: str | None = None,
        visible_to: str | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Append a message; a reply goes under its thread's first message."""
        entry = Entry(
            id=f"{self._prefix}.{next(self._ids):06d}",
            conversation=conversation,
            at=self.clock.now(),
            author=author,
            by=by,
            card=card,
            text=text,
            visible_to=visible_to,
            source=source,
        )
        root = self._by_id.get(thread) if thread else None
        if root is not None and root.thread is not None:
            root = self._by_id.get(root.thread)
        if root is not None:
            entry.thread = root.id
            root.replies.append(entry)
        else:
            timeline = self._conversations.setdefault(conversation, [])
            timeline.append(entry)
            if len(timeline) > MAX_ENTRIES:
                for gone in timeline[: len(timeline) - MAX_ENTRIES]:
                    self._forget(gone)
                del timeline[: len(timeline) - MAX_ENTRIES]
        self._by_id[entry.id] = entry
        self.version += 1
        return entry

    def _forget(self, entry: Entry) -> None:
        self._by_id.pop(entry.id, None)
        for reply in entry.replies:
            self._by_id.pop(reply.id, None)

    def get(self, message_id: str) -> Entry | None:
        """One message by id."""
        return self._by_id.get(message_id)

    def timeline(self, conversation: str, *, viewer: str | None) -> list[Entry]:
        """A conversation's top-level messages, oldest first, as `viewer` sees it (answers
        meant for someone else are left out, replies included)."""
        return [
            _seen_by(entry, viewer)
            for entry in self._conversations.get(conversation, [])
            if entry.visible_to in (None, viewer)
        ]

    def unread(self, person: str, *, since: int) -> int:
        """How many of a person's direct messages have an index at or after `since`."""
        return max(0, len(self._conversations.get(direct_conversation(person), [])) - since)

    def count(self, conversation: str) -> int:
        """How many top-level messages a conversation has."""
        return len(self._conversations.get(conversation, []))


def _seen_by(entry: Entry, viewer: str | None) -> Entry:
    if all(r.visible_to in (None, viewer) for r in entry.replies):
        return entry
    shown = [r for r in entry.replies if r.visible_to in (None, viewer)]
    return Entry(**{**entry.__dict__, "replies": shown})
