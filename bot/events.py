"""Inbound neutral events: what adapters turn platform payloads into."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot.domain import MessageRef, UserRef


@dataclass(frozen=True)
class AlertSeen:
    """An alert read from a watched channel or received over HTTP.

    `event_id` is the platform's delivery id: the same id twice is taken once. `system`,
    `fingerprint` and `status` are given by structured sources (Alertmanager) and derived
    from the text otherwise. A person's "resolved" message resolves an alert only if that
    person may act on it, and is recorded as theirs.
    """

    platform: str
    channel: str
    text: str
    event_id: str
    message: MessageRef | None = None
    title: str | None = None
    system: str | None = None
    fingerprint: str | None = None
    status: Literal["firing", "resolved"] | None = None
    link: str | None = None
    author: UserRef | None = None  # set when a person, not an integration, wrote it
    # Which integration posted it (a Slack bot or app id, a Teams bot id, "http" for the
    # intake), when no person did: only the same one may resolve the alert it opened.
    integration: str | None = None


@dataclass(frozen=True)
class ButtonClicked:
    """A click on one of the bot's buttons. `target` is the user picked for a hand-off;
    `text` what the clicker typed in the card's text field (capped by the adapter)."""

    user: UserRef
    action: str
    value: str
    message: MessageRef | None = None
    target: UserRef | None = None
    text: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)  # a form's answers, capped

    def record_id(self) -> int | None:
        """The button's value as the id of a stored record, or None when it is not one."""
        value = self.value or ""
        return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


Command = Literal["who-owns", "stop", "resume", "help", "console", "who-decides", "review"]


@dataclass(frozen=True)
class CommandGiven:
    """A slash command (Slack) or a message addressed to the bot (Teams)."""

    user: UserRef
    command: Command
    args: str = ""
    channel: str | None = None
