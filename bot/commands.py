"""Chat commands: `who-owns`, `who-decides`, `stop`, `resume` and `help` (Slack slash
commands, or words addressed to the bot in Teams). bot.router maps each command name to a
handler here."""

from __future__ import annotations

import dataclasses
import difflib

from bot import decisions, follow_ups, render, stops
from bot.cards import Card, Reply
from bot.context import Context
from bot.events import CommandGiven
from bot.matching import registry_channel
from bot.registry import ChannelId, SystemView
from bot.roles import stale_roles


def close_matches(word: str, candidates: list[str]) -> list[str]:
    """Systems whose id looks like what was typed."""
    found = difflib.get_close_matches(word, candidates, n=5, cutoff=0.5)
    found += [c for c in candidates if word and word in c and c not in found]
    return found[:5]


class Commands:
    """The handlers of the chat commands."""

    def __init__(self, context: Context) -> None:
        self.context = context

    async def help(self, event: CommandGiven) -> Reply:
        """What the bot understands."""
        return Reply(render.help_card())

    async def who_owns(self, event: CommandGiven) -> Reply:
        """`who-owns <system>`, or the systems of this channel when no system is named."""
        if not event.args.split():
            return await self._channel_systems(event)
        system, refusal = self._system(event)
        if system is None:
            return refusal
        return Reply(await self.who_owns_card(system, platform=event.user.platform))

    async def who_decides(self, event: CommandGiven) -> Reply:
        """`who-decides <system> [category]`: the weekly decision and the decision rights."""
        system, refusal = self._system(event)
        if system is None:
            return refusal
        words = event.args.split()
        category = words[1] if len(words) > 1 else None
        lines = decisions.rights_lines(self.context, system, category=category)
        title = f"Who decides on {system.id}" + (f": {category}" if category else "")
        return Reply(Card(title=title, lines=tuple(lines)))

    async def stop(self, event: CommandGiven) -> Reply:
        """`stop <system> [reason]`."""
        return await self._stop_or_resume(event)

    async def resume(self, event: CommandGiven) -> Reply:
        """`resume <system> [reason]`."""
        return await self._stop_or_resume(event)

    async def _stop_or_resume(self, event: CommandGiven) -> Reply:
        system, refusal = self._system(event)
        if system is None:
            return refusal
        words = event.args.split(maxsplit=1)
        return await stops.request_stop(
            self.context,
            event,
            system,
            kind=event.command,
            reason=words[1].strip() if len(words) > 1 else "",
        )

    def _system(self, event: CommandGiven) -> tuple[SystemView | None, Reply]:
        """The system a command names, or why there is none (usage, or close matches)."""
        words = event.args.split(maxsplit=1)
        if not words:
            return None, Reply(render.notice("Which system?", f"Usage: {event.command} <system>"))
        system = self.context.registry.system(words[0])
        return system, Reply(self.unknown_system(words[0]))

    def unknown_system(self, word: str) -> Card:
        """The answer to a system id that is not in the registry."""
        near = close_matches(word, sorted(self.context.registry.systems))
        hint = f"Did you mean: {', '.join(near)}?" if near else "No system has a similar id."
        return render.notice(f"No system called {word!r}", hint, tone="warning")

    async def _channel_systems(self, event: CommandGiven) -> Reply:
        registry = self.context.registry
        people = self.context.people
        here = [
            s
            for s in registry.systems.values()
            if event.channel
            and registry_channel(registry, ChannelId(event.user.platform, event.channel))
            in s.channels
        ]
        if not here:
            listed = ", ".join(sorted(registry.systems)) or "none"
            return Reply(
                render.notice(
                    "No system lists this channel", f"Ask about one by name. Systems: {listed}."
                )
            )
        lines = [
            f"{s.id}: operator {people.name(s.operator)}, steward {people.name(s.steward)}"
            for s in here
        ]
        return Reply(render.notice("Systems of this channel", *lines))

    async def who_owns_card(self, system: SystemView, *, platform: str) -> Card:
        """The who-owns card of one system."""
        context = self.context
        async with context.store.transaction() as tx:
            confirmations = await tx.ownership.confirmations(system=system.id)
            open_alerts = await tx.alerts.unresolved(system=system.id)
            status = await tx.stops.status(system=system.id)
            open_items = await tx.reviews.open_follow_ups(system=system.id)
        holders = {
            role: await context.people.mention(person, platform=platform)
            for role, person in system.roles().items()
        }
        card = render.who_owns(
            system=system,
            registry=context.registry,
            holders=holders,
            confirmations=confirmations,
            stale=stale_roles(system, confirmations, now=context.clock.now()),
            open_alerts=open_alerts,
            status=status,
        )
        rights = tuple(decisions.rights_lines(context, system))
        lines = card.lines + rights + follow_ups.open_lines(context, open_items)
        return dataclasses.replace(card, lines=lines)
