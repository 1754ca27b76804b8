"""The router: one table from button action names and command names to their handlers.

A new button: add its action name to bot.cards and a row to the action table in `routes()`;
a new command: add its word to bot.events.Command and a row to the command table. The
handlers live in the feature modules (bot.clicks, bot.stops, bot.roles, bot.commands,
bot.decisions)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot import cards, decisions, follow_ups, learning, render, roles, stops
from bot.cards import Reply
from bot.clicks import Clicks
from bot.commands import Commands
from bot.console_link import ConsoleDesk
from bot.context import Context
from bot.events import ButtonClicked, CommandGiven
from bot.incidents import Incidents
from bot.scorecard_views import DECIDE

ClickHandler = Callable[[ButtonClicked], Awaitable[Reply | None]]
CommandHandler = Callable[[CommandGiven], Awaitable[Reply]]


@dataclass(frozen=True)
class Router:
    """Dispatches clicks and commands by name."""

    actions: Mapping[str, ClickHandler]
    commands: Mapping[str, CommandHandler]

    async def click(self, event: ButtonClicked) -> Reply | None:
        """Handle a button click; returns what to tell the clicker, if anything."""
        handler = self.actions.get(event.action)
        if handler is None:
            return Reply(render.notice("Unknown action", f"{event.action!r} is not a bot action."))
        return await handler(event)

    async def command(self, event: CommandGiven) -> Reply:
        """Answer a command."""
        handler = self.commands.get(event.command)
        if handler is None:
            return Reply(render.help_card())
        return await handler(event)


def routes(
    context: Context,
    *,
    clicks: Clicks,
    commands: Commands,
    console: ConsoleDesk,
    incidents: Incidents,
) -> Router:
    """The table: every button action and every command the bot answers."""

    async def stop_click(event: ButtonClicked) -> Reply | None:
        return await stops.stop_click(context, event)

    async def role_confirm(event: ButtonClicked) -> Reply | None:
        return await roles.role_confirm(context, event)

    async def role_hand_off(event: ButtonClicked) -> Reply | None:
        return await roles.role_hand_off(context, event)

    async def decide(event: ButtonClicked) -> Reply | None:
        return await decisions.decide_click(context, event)
    async def form_open(event: ButtonClicked) -> Reply | None:
        return await learning.open_click(context, event)

    async def form_answer(event: ButtonClicked) -> Reply | None:
        return await learning.submit(context, event)

    async def follow_up_done(event: ButtonClicked) -> Reply | None:
        return await follow_ups.done_click(context, event)

    return Router(
        actions={
            cards.ACK: clicks.on_alert,
            cards.RESOLVE: clicks.on_alert,
            cards.HAND_OFF: clicks.on_alert,
            cards.ACK_BOARD: clicks.on_board,
            cards.STOP_CONFIRM: stop_click,
            cards.STOP_CANCEL: stop_click,
            cards.ROLE_CONFIRM: role_confirm,
            cards.ROLE_HAND_OFF: role_hand_off,
            DECIDE: decide,
            cards.REVIEW: incidents.click,
            cards.FORM_OPEN: form_open,
            cards.FORM_SUBMIT: form_answer,
            cards.FORM_SKIP: form_answer,
            cards.FOLLOW_UP_DONE: follow_up_done,
        },
        commands={
            "help": commands.help,
            "who-owns": commands.who_owns,
            "who-decides": commands.who_decides,
            "stop": commands.stop,
            "resume": commands.resume,
            "console": console.command,
            "review": incidents.command,
        },
    )
