"""What the sandbox pages do, apart from HTTP: turn a page's action into the core's neutral
event, hand it to the core, and put the core's answer where a chat platform would show it.

The pages act as a chosen registry person ("act as", sandbox only); everything else goes
through the same entry points Slack and Teams use.
"""

from __future__ import annotations

import logging
import typing
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from adapters.web.sandbox.actions import SandboxActions
from adapters.web.sandbox.clock import SandboxClock
from adapters.web.sandbox.platform import PLATFORM, Entry, WebPlatform
from adapters.web.sandbox.samples import Sample
from bot import render
from bot.cards import Reply
from bot.domain import AlertTaken, MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked, Command, CommandGiven
from bot.registry import Registry

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "alerts"
MAX_SAID = 4000


class Summarized(Protocol):
    """A report that says in one line what happened (bot.stale.ScanReport)."""

    def summary(self) -> str:
        """One line."""
        ...


class Core(Protocol):
    """The core's entry points the sandbox uses: the same ones as the Slack and Teams adapters."""

    @property
    def registry(self) -> Registry:
        """The registry in force."""
        ...

    async def take_alert(self, event: AlertSeen) -> AlertTaken:
        """Store an alert (no platform I/O)."""
        ...

    async def publish(self, taken: AlertTaken) -> None:
        """Post or update the claim of a stored alert."""
        ...

    async def click(self, event: ButtonClicked) -> Reply | None:
        """Handle a button."""
        ...

    async def command(self, event: CommandGiven) -> Reply:
        """Answer a command."""
        ...

    async def tick(self) -> typing.Any:
        """Send escalation steps that are due."""
        ...

    async def stale_scan(self, *, period: str, dry_run: bool = False) -> Summarized:
        """Run the stale-ownership scan for `period` (once)."""
        ...


@dataclass
class Sandbox:
    """The sandbox's parts: the core it drives, its platform, clock and stop actions."""

    core: Core
    platform: WebPlatform
    clock: SandboxClock
    actions: SandboxActions

    @property
    def registry(self) -> Registry:
        """The registry in force."""
        return self.core.registry

    def channels(self) -> list[str]:
        """The registry's channels, shown under their own ids; one default when it has none."""
        found: list[str] = []
        for channel in [c.channel for c in self.registry.channels] + [
            c for s in self.registry.systems.values() for c in s.channels
        ]:
            if channel.id not in found:
                found.append(channel.id)
        return found or [DEFAULT_CHANNEL]

    def platforms_of(self) -> dict[str, str]:
        """Channel id -> the platform the registry lists it on (shown beside its name)."""
        found: dict[str, str] = {}
        for channel in sorted(self.registry.watched(), key=str):
            if channel.platform != PLATFORM:
                found.setdefault(channel.id, channel.platform)
        return found

    def person(self, wanted: str | None) -> str:
        """The person the pages act as: `wanted` when the registry has them, else the first
        system's operator (who alerts are claimed for)."""
        people = self.registry.people
        if wanted and wanted in people:
            return wanted
        first = next(iter(self.registry.systems.values()), None)
        return first.operator if first else next(iter(people), "")

    # ---- alerts ----------------------------------------------------------------------------

    async def post_alert(self, sample: Sample, *, channel: str) -> str | None:
        """Post a tool's alert in a channel and let the core take it; what happened, in words."""
        entry = self.platform.add(
            conversation=channel,
            author="tool",
            by=sample.tool,
            text=sample.text,
            source={"source": sample.source, "payload": sample.payload},
        )
        event = replace(
            sample.seen(platform=PLATFORM, channel=channel),
            message=MessageRef(PLATFORM, channel, entry.id),
        )
        return await self._take(event)

    async def _take(self, event: AlertSeen) -> str | None:
        try:
            taken = await self.core.take_alert(event)
        except Exception:
            log.exception("the sandbox could not store an alert")
            return "The alert could not be stored (see the log); a platform would deliver it again."
        if taken.alert is not None:
            await self.core.publish(taken)
        return None if taken.outcome == "not_an_alert" else f"Alert {taken.outcome}."

    # ---- what people type ------------------------------------------------------------------

    async def say(
        self, *, person: str, conversation: str, text: str, thread: str | None = None
    ) -> str | None:
        """A person typed in a conversation: a `/command`, or a message, which is an alert only
        when it names a system or announces a resolution (as in a Slack channel)."""
        text = text.replace("\x00", "").strip()[:MAX_SAID]
        if not text:
            return None
        user = UserRef(PLATFORM, person)
        if text.startswith("/"):
            return await self._command(user, conversation, text, thread)
        entry = self.platform.add(
            conversation=conversation, author="person", by=person, text=text, thread=thread
        )
        if entry.thread is not None or conversation not in self.channels():
            return None  # talk in a thread or a direct message
        # Admission decides, as for Slack and Teams: a person's post is an alert only when it
        # names a system or announces a resolution.
        event = AlertSeen(
            platform=PLATFORM,
            channel=conversation,
            text=text,
            event_id=f"said:{entry.id}",
            message=MessageRef(PLATFORM, conversation, entry.id),
            author=user,
        )
        return await self._take(event)

    async def _command(
        self, user: UserRef, conversation: str, text: str, thread: str | None
    ) -> str | None:
        name, _, args = text[1:].partition(" ")
        self.platform.add(
            conversation=conversation,
            author="person",
            by=user.id,
            text=text,
            thread=thread,
            visible_to=user.id,
        )
        known = typing.get_args(Command)
        if name not in known:
            reply = Reply(
                render.notice(
                    f"No command /{name}",
                    "Commands: " + ", ".join(f"/{c}" for c in known),
                    tone="warning",
                )
            )
        else:
            given = CommandGiven(
                user=user,
                command=typing.cast(Command, name),
                args=args.strip(),
                channel=conversation,
            )
            try:
                reply = await self.core.command(given)
            except Exception:
                log.exception("sandbox command failed")
                reply = Reply(render.failed())
        self._answer(reply, person=user.id, conversation=conversation, thread=thread, entry=None)
        return None

    # ---- buttons ---------------------------------------------------------------------------

    async def click(
        self,
        *,
        person: str,
        action: str,
        value: str,
        message_id: str,
        target: str | None = None,
    ) -> str | None:
        """A person clicked a button on a message; None when the message is unknown."""
        entry = self.platform.get(message_id)
        if entry is None:
            return "That message is gone (the sandbox keeps messages in memory)."
        event = ButtonClicked(
            user=UserRef(PLATFORM, person),
            action=action,
            value=value,
            message=MessageRef(PLATFORM, entry.conversation, entry.id, entry.thread),
            target=UserRef(PLATFORM, target) if target else None,
        )
        try:
            reply = await self.core.click(event)
        except Exception:
            log.exception("sandbox click failed")
            reply = Reply(render.failed())
        if reply is not None:
            self._answer(
                reply,
                person=person,
                conversation=entry.conversation,
                thread=entry.thread or entry.id,
                entry=entry,
            )
        return None

    def _answer(
        self,
        reply: Reply,
        *,
        person: str,
        conversation: str,
        thread: str | None,
        entry: Entry | None,
    ) -> None:
        """Show a Reply as a platform does: in place, to everyone, or to the asker only."""
        if reply.replace_original and entry is not None:
            entry.card = reply.card
            entry.edits += 1
            self.platform.version += 1
            return
        self.platform.add(
            conversation=conversation,
            author="bot",
            by="accountability-bot",
            card=reply.card,
            thread=thread,
            visible_to=None if reply.public else person,
        )

    # ---- time ------------------------------------------------------------------------------

    async def advance(self, delta: timedelta) -> str:
        """Move the clock forward and send whatever escalation came due."""
        self.clock.advance(delta)
        try:
            await self.core.tick()
        except Exception:
            log.exception("sandbox escalation tick failed")
            return "The clock moved; the escalation tick failed (see the log) and will retry."
        return "The clock moved; due escalation steps were sent."

    async def stale_scan(self) -> str:
        """Run the stale-ownership scan now (a period of its own, so every click runs it)."""
        try:
            report = await self.core.stale_scan(period=f"sandbox {self.clock.now().isoformat()}")
        except Exception:
            log.exception("sandbox stale-ownership scan failed")
            return "The stale-ownership scan failed (see the log)."
        return "Stale-ownership scan: " + report.summary()
