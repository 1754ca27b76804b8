"""The Teams transport: `POST /api/messages` through botbuilder's CloudAdapter, and the
ActivityHandler that turns activities into the core's events.

Every request is authenticated before anything happens: with TEAMS_APP_ID set it must carry a
Bot Framework JWT signed by a key Bot Framework publishes, issued for this app and for the
activity's serviceUrl (401 otherwise). Without an app id the endpoint is for local development
only: it takes anonymous activities from this machine and refuses everyone else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
)
from botbuilder.schema import Activity

from adapters.inbox_worker import record_seen
from adapters.teams import adaptive, translate
from adapters.teams.connector import warm_token
from adapters.teams.platform import TeamsPlatform, capture_updates
from bot import render
from bot.cards import Card, Reply
from bot.domain import MessageRef
from bot.events import AlertSeen, ButtonClicked, CommandGiven
from bot.ports import PlatformError
from store.inbox import RecordFailed

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)

INBOUND = "accountability.inbound"
RAW = "accountability.raw"
ROUTE = "/api/messages"
ANONYMOUS_WARNING = (
    "TEAMS_APP_ID is not set: POST /api/messages accepts UNAUTHENTICATED Bot Framework "
    "activities, and only from this machine (local development, e.g. the Bot Framework "
    "Emulator). Set TEAMS_APP_ID and TEAMS_APP_PASSWORD before connecting Microsoft Teams."
)


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


def _from_this_machine(request: web.Request) -> bool:
    forwarded = any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP"))
    try:
        address = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback and not forwarded


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


class TeamsEndpoint:
    """The aiohttp handler of POST /api/messages."""

    def __init__(self, *, adapter: CloudAdapter, auth: Any, bot: TeamsBot, app_id: str) -> None:
        self.adapter = adapter
        self.auth = auth
        self.bot = bot
        self.app_id = app_id

    async def _authenticate(self, activity: Activity, header: str | None) -> Any:
        if header is None:
            return await self.auth.authenticate_request(activity, None)
        # botbuilder fetches signing keys with blocking `requests`: keep that off the event loop.
        return await asyncio.to_thread(
            asyncio.run, self.auth.authenticate_request(activity, header)
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Authenticate, check, and process one activity."""
        if request.content_type != "application/json":
            return _refuse(415, "send the activity as application/json")
        try:
            raw = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _refuse(400, "the body is not JSON")
        header = request.headers.get("Authorization")
        if not self.app_id:
            if not _from_this_machine(request):
                return _refuse(401, "anonymous activities are accepted only from this machine")
            header = None
        elif not header:
            return _refuse(401, "missing Bot Framework token")
        if not isinstance(raw, dict):
            return _refuse(400, "the body must be a JSON object (an activity)")
        try:
            activity = Activity().deserialize(raw)
        except Exception:
            return _refuse(400, "the body is not a Bot Framework activity")
        try:
            authenticated = await self._authenticate(activity, header)
        except Exception as exc:
            log.warning("rejected a Teams request: %s: %s", exc.__class__.__name__, exc)
            return _refuse(401, "invalid Bot Framework token")
        try:
            inbound = translate.parse_activity(raw)
        except translate.BadActivity as exc:
            return _refuse(400, str(exc))

        async def logic(turn_context: TurnContext) -> None:
            await self.bot.handle(turn_context, inbound=inbound, raw=raw)

        try:
            answer = await self.adapter.process_activity(authenticated, activity, logic)
        except translate.BadActivity as exc:
            return _refuse(400, str(exc))
        except StorageUnavailable:
            log.exception("teams activity not taken: storage failed")
            return _refuse(503, "storage unavailable; deliver again later")
        except Exception:
            log.exception("teams activity failed", extra={"activity_type": inbound.type})
            return _refuse(500, "internal error")
        if answer is not None:
            return web.json_response(answer.body, status=int(answer.status or 200))
        return web.Response(status=200)


TEAMS_BOT: web.AppKey[TeamsBot] = web.AppKey("teams_bot", TeamsBot)


def mount(app: web.Application, runtime: Runtime) -> None:
    """Register `POST /api/messages` for the runtime's Teams connection."""
    teams = runtime.teams
    if teams is None:
        return
    bot = TeamsBot(runtime=runtime, platform=teams.platform)
    app[TEAMS_BOT] = bot
    endpoint = TeamsEndpoint(adapter=teams.adapter, auth=teams.auth, bot=bot, app_id=teams.app_id)
    app.router.add_post(ROUTE, endpoint.handle)
    if not teams.app_id:
        log.warning(ANONYMOUS_WARNING)
