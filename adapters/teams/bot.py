"""The ActivityHandler that turns authenticated Teams activities into the core's events
(adapters.teams.endpoint authenticates and bounds them first)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity

from adapters.inbox_worker import record_seen
from adapters.teams import adaptive, forms, translate
from adapters.teams.connector import capture_updates, warm_token
from adapters.teams.platform import TeamsPlatform
from bot import render
from bot.cards import Card, Form, Reply
from bot.domain import MessageRef
from bot.events import AlertSeen, ButtonClicked, CommandGiven
from bot.ports import PlatformError
from store.inbox import RecordFailed

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)

INBOUND = "accountability.inbound"
RAW = "accountability.raw"
class StorageUnavailable(Exception):
    """The alert could not be stored: Teams must not be told it was taken."""


def _unknown_command(text: str) -> Card:
    word = text.split(maxsplit=1)[0] if text.strip() else ""
    help_card = render.help_card()
    return Card(
        title=f"I do not know {word!r}. What I understand:",
        lines=help_card.lines,
        tone="info",
    )


ClickOutcome = tuple[Reply | None, list[Card]]


class TeamsBot(ActivityHandler):  # type: ignore[misc]
    """Messages, card clicks and installs, handed to the core as neutral events."""

    # Teams gives up on an invoke after a few seconds; a click that takes longer (a stop
    # action running) is answered "working on it" and its result replaces the card later.
    invoke_patience = 4.0

    def __init__(self, *, runtime: Runtime, platform: TeamsPlatform) -> None:
        super().__init__()
        self.runtime = runtime
        self.platform = platform

    async def handle(
        self, turn_context: TurnContext, *, inbound: translate.Inbound, raw: dict[str, Any]
    ) -> None:
        """One authenticated activity: remember where it came from, then dispatch it."""
        turn_context.turn_state[INBOUND] = inbound
        turn_context.turn_state[RAW] = raw
        try:
            await self.platform.remember(inbound)
        except Exception as exc:
            raise StorageUnavailable("could not store the conversation reference") from exc
        await self.on_turn(turn_context)

    # ---- helpers ------------------------------------------------------------------------------

    def later(self, work: Awaitable[object], *, what: str) -> None:
        """Run platform I/O after the HTTP answer (the runtime's one background runner)."""
        self.runtime.background.spawn(work, what=f"teams {what}")

    async def _send(self, turn_context: TurnContext, card: Card) -> None:
        activity = Activity().deserialize(adaptive.message_activity(card))
        await warm_token(turn_context)
        try:
            await self.platform.call(lambda: turn_context.send_activity(activity), what="a reply")
        except PlatformError as exc:
            log.warning("teams reply failed: %s", exc)

    async def _send_form(self, turn_context: TurnContext, form: Form) -> None:
        """The resolve form, in the conversation of the click (the answer is the person's)."""
        activity = Activity().deserialize(forms.form_activity(form))
        await warm_token(turn_context)
        try:
            await self.platform.call(lambda: turn_context.send_activity(activity), what="a form")
        except PlatformError as exc:
            log.warning("teams form failed: %s", exc)

    async def _replace(self, turn_context: TurnContext, message_id: str, card: Card) -> None:
        activity = Activity().deserialize(adaptive.message_activity(card, message_id=message_id))
        await warm_token(turn_context)
        try:
            await self.platform.call(
                lambda: turn_context.update_activity(activity), what="an update"
            )
        except PlatformError as exc:
            log.warning("teams card update failed: %s", exc)

    async def _click(self, click: ButtonClicked) -> ClickOutcome:
        """The core's answer to a click; a failure is logged and answered "Something went
        wrong" to the clicker (never a 500, which Teams shows as a broken card)."""
        with capture_updates() as updated:
            try:
                reply = await self.runtime.service.click(click)
            except Exception:
                log.exception("teams click failed", extra={"action": click.action})
                return Reply(render.failed()), []
        return reply, list(updated)

    async def _command(self, command: CommandGiven) -> Card:
        """The core's answer to a command, or "Something went wrong" (logged) when it failed."""
        try:
            return (await self.runtime.service.command(command)).card
        except Exception:
            log.exception("teams command failed", extra={"command": command.command})
            return render.failed()

    async def _timely_click(
        self, click: ButtonClicked, inbound: translate.Inbound
    ) -> ClickOutcome | None:
        """The click's outcome, or None when it is still running after `invoke_patience`
        (it then finishes in the background and delivers its answer itself)."""
        work = asyncio.ensure_future(self._click(click))
        done, _ = await asyncio.wait({work}, timeout=self.invoke_patience)
        if work in done:
            return work.result()
        self.later(self._deliver_late(work, click, inbound), what="a slow click")
        return None

    async def _deliver_late(
        self, work: Awaitable[ClickOutcome], click: ButtonClicked, inbound: translate.Inbound
    ) -> None:
        reply, _ = await work
        if reply is None:
            return  # the claim was refreshed in place already
        if reply.replace_original and inbound.reply_to_id:
            message = MessageRef(
                translate.PLATFORM, inbound.channel, inbound.reply_to_id, inbound.thread
            )
            await self.platform.update(message=message, card=reply.card)
        elif reply.public or inbound.personal:
            await self.platform.post(
                channel=inbound.channel, card=reply.card, thread=inbound.thread
            )
        else:
            await self.platform.direct(user=click.user, card=reply.card)

    # ---- activity types ---------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """A command to the bot, a card's submit (older clients), or a post in a watched channel."""
        inbound: translate.Inbound = turn_context.turn_state[INBOUND]
        click = translate.to_click(inbound)
        if click is not None:
            outcome = await self._timely_click(click, inbound)
            if outcome is None or outcome[0] is None:
                return  # still running, or the claim was updated in place already
            reply = outcome[0]
            if reply.form is not None:
                await self._send_form(turn_context, reply.form)
                return
            if reply.replace_original and inbound.reply_to_id:
                await self._replace(turn_context, inbound.reply_to_id, reply.card)
            else:
                await self._send(turn_context, reply.card)
            return
        if inbound.addressed:
            command = translate.to_command(inbound)
            if command is None:
                await self._send(turn_context, _unknown_command(inbound.text))
                return
            await self._send(turn_context, await self._command(command))
            return
        alert = translate.to_alert(inbound, turn_context.turn_state[RAW])
        if alert is None:
            return
        if self.runtime.inbox is not None:
            await self._record(alert)
            return
        try:
            taken = await self.runtime.service.take_alert(alert)
        except Exception as exc:
            raise StorageUnavailable("could not store the alert") from exc
        if taken.alert is not None:
            self.later(self.runtime.service.publish(taken), what="posting a claim")

    async def _record(self, alert: AlertSeen) -> None:
        """Record the alert in the inbox and let Teams have its answer; the inbox worker
        stores and claims it after (issue 12)."""
        assert self.runtime.inbox is not None
        try:
            await record_seen(self.runtime.inbox, alert)
        except RecordFailed as exc:
            raise StorageUnavailable("could not record the alert") from exc

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """`adaptiveCard/action` (Action.Execute): the click, answered with the card to show."""
        inbound: translate.Inbound = turn_context.turn_state[INBOUND]
        if inbound.name != translate.CARD_ACTION:
            return InvokeResponse(
                status=400, body=adaptive.invoke_error(400, f"unsupported invoke {inbound.name!r}")
            )
        try:
            click = translate.to_click(inbound)
        except translate.BadActivity as exc:
            return InvokeResponse(status=400, body=adaptive.invoke_error(400, str(exc)))
        if click is None:
            return InvokeResponse(
                status=400, body=adaptive.invoke_error(400, "the click names no sender")
            )
        outcome = await self._timely_click(click, inbound)
        if outcome is None:
            return InvokeResponse(
                status=200,
                body=adaptive.invoke_message("Working on it: the result will replace this card."),
            )
        reply, updated = outcome
        if reply is not None and reply.form is not None:
            await self._send_form(turn_context, reply.form)
            reply = None if updated else Reply(reply.card)
        if reply is None:
            body = (
                adaptive.invoke_card(updated[-1]) if updated else adaptive.invoke_message("Done.")
            )
        elif reply.replace_original:
            if inbound.reply_to_id:
                await self._replace(turn_context, inbound.reply_to_id, reply.card)
            body = adaptive.invoke_card(reply.card)
        else:
            if reply.public:
                await self._send(turn_context, reply.card)
            body = adaptive.invoke_message(reply.card.plain_text())
        return InvokeResponse(status=200, body=body)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        """Installed: the reference is stored already; a personal install also gets the help."""
        inbound: translate.Inbound = turn_context.turn_state[INBOUND]
        if inbound.personal:
            await self._send(turn_context, render.help_card())


TEAMS_BOT: web.AppKey[TeamsBot] = web.AppKey("teams_bot", TeamsBot)
