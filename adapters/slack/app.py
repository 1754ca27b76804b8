"""Slack transport: slack-bolt's AsyncApp on the shared aiohttp application.

`POST /slack/events` takes events, slash commands and interactivity on one URL (HTTP mode,
SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET); SLACK_APP_TOKEN adds Socket Mode for a laptop with no
public URL. Two promises shape this module:

- An alert is acknowledged to Slack only after it is stored. Bolt runs with
  `process_before_response=True`, so the HTTP answer (or the Socket Mode ack) is sent when the
  message listener returns; the listener stores the alert first and answers 503 when storage
  fails, so Slack delivers the event again. Posting the claim happens after the answer.
- Clicks and commands are acknowledged at once (Slack allows 3 s); the work runs afterwards
  and its answer goes out through chat.update, chat.postEphemeral or the response_url.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from adapters.inbound import clean, load_json
from adapters.slack import events, forms, translate
from adapters.slack.checks import check_payload
from adapters.slack.platform import SlackPlatform
from adapters.slack.translate import ClickContext, Identity
from bot import render
from bot.admission import watched_ids
from bot.cards import FORM_SKIP, FORM_SUBMIT, Card, Reply
from bot.events import AlertSeen, ButtonClicked
from bot.ports import PlatformError
from store.inbox import Delivery

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
FORM_VIEWS = re.compile("^" + re.escape(FORM_SUBMIT) + "$")


class SlackAdapter:
    """The Bolt app, its listeners, and the background work they start after acknowledging."""

    def __init__(
        self, *, runtime: Runtime, platform: SlackPlatform, signing_secret: str | None
    ) -> None:
        self.runtime = runtime
        self.platform = platform
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        # Signatures are checked in `handle` (before any parsing); Socket Mode needs none.
        self.bolt = AsyncApp(
            client=platform.client,
            process_before_response=True,
            request_verification_enabled=False,
            logger=logging.getLogger("slack_bolt"),
        )
        self._register()

    # ---- HTTP -----------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """POST /slack/events: verify the signature, refuse malformed bodies, dispatch to Bolt."""
        raw = await request.read()
        if self.verifier is None or not self._signed(raw, request):
            return web.json_response({"error": "invalid or missing Slack signature"}, status=401)
        try:
            payload = parse_body(raw, request.headers.get("Content-Type", ""))
        except ValueError as exc:
            return web.json_response({"error": f"malformed body: {exc}"}, status=400)
        if reason := check_payload(payload):
            return web.json_response({"error": reason}, status=400)
        retry = request.headers.get("X-Slack-Retry-Num")
        if retry:
            log.info(
                "slack redelivery",
                extra={
                    "retry": retry,
                    "reason": request.headers.get("X-Slack-Retry-Reason"),
                    "event_id": payload.get("event_id"),
                },
            )
        headers: dict[str, str | Sequence[str]] = {
            k: v for k, v in request.headers.items() if not k.lower().startswith("x-slack-bolt-")
        }
        # Bolt is handed the parsed dict (as Socket Mode does) because its own form parser
        # takes any body containing the word "payload" for an interaction, which would lose
        # a command like `/who-owns payload-router`. The signature was verified above.
        try:
            bolt_request = AsyncBoltRequest(body=payload, headers=headers, mode="socket_mode")
        except (TypeError, KeyError, IndexError, AttributeError, ValueError) as exc:
            # Bolt reads ids (team, user, channel…) assuming Slack's types; a signed body
            # with, say, `"channel": false` is malformed, not a server error.
            return web.json_response({"error": f"malformed payload: {exc}"}, status=400)
        wrong = sorted(
            key
            for key, value in bolt_request.context.items()
            if key != "is_enterprise_install" and not isinstance(value, str)
        )
        if wrong:  # Bolt would later send them to Slack as query parameters
            return web.json_response({"error": f"malformed ids: {', '.join(wrong)}"}, status=400)
        inbox = self.runtime.inbox
        if inbox is not None and events.wants(payload, watched=self.watched()):
            return await events.record(inbox, payload)  # worked off after the answer
        answer = await self.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(answer)

    def _signed(self, raw: bytes, request: web.Request) -> bool:
        assert self.verifier is not None
        try:
            return self.verifier.is_valid(
                body=raw,
                timestamp=request.headers.get("X-Slack-Request-Timestamp"),
                signature=request.headers.get("X-Slack-Signature"),
            )
        except (ValueError, TypeError):  # a timestamp that is not a number; a non-ASCII
            return False  # signature, which hmac.compare_digest refuses with TypeError

    # ---- listeners ------------------------------------------------------------------------------

    def _register(self) -> None:
        bolt = self.bolt

        @bolt.event("message")
        async def on_message(body: dict[str, Any], context: Any) -> BoltResponse | None:
            return await self.take_message(body, self._identity(context))

        @bolt.event(re.compile(".*"))
        async def on_other_event() -> None:
            """Subscribed events the bot does not use: acknowledge so Slack stops resending."""

        @bolt.command(re.compile(".*"))
        async def on_command(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            self.spawn(self.answer_command(body), "slash command")

        @bolt.action(translate.ACTION_PATTERN)
        async def on_action(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            parsed = translate.click_from_payload(body)
            if parsed is not None:
                self.spawn(self.answer_click(*parsed), "click")

        @bolt.action(re.compile(".*"))
        async def on_other_action(ack: Any) -> None:
            await ack()

        @bolt.view_submission(FORM_VIEWS)
        async def on_form(ack: Any, body: dict[str, Any]) -> None:
            await self.answer_form(ack, body)

        @bolt.view_closed(FORM_VIEWS)
        async def on_form_closed(ack: Any, body: dict[str, Any]) -> None:
            await self.answer_form(ack, body)

    async def take_message(self, body: Mapping[str, Any], me: Identity) -> BoltResponse | None:
        """Store the alert in a message event before Slack hears back (Socket Mode, or HTTP
        without an inbox); 503 when storage fails."""
        seen = translate.alert_from_event(body, me=me, watched=self.watched())
        if seen is None:
            return None
        try:
            taken = await self.runtime.service.take_alert(seen)
        except Exception:
            log.exception(
                "could not store a Slack alert; answering 503 so Slack delivers it again",
                extra={"event_id": seen.event_id, "channel": seen.channel},
            )
            return BoltResponse(status=503, body='{"error": "storage unavailable, retry"}')
        if taken.alert is not None:
            self.spawn(self.runtime.service.publish(taken), f"publish {taken.outcome}")
        return None

    def watched(self) -> frozenset[str]:
        """The Slack channels the registry in force watches."""
        return watched_ids(self.runtime.service.context, platform=translate.PLATFORM)

    def decode(self, delivery: Delivery) -> list[AlertSeen]:
        """The alert in an event the inbox recorded (read back by the inbox worker)."""
        return events.decode(delivery, me=self._identity(None), watched=self.watched())

    async def answer_command(self, body: Mapping[str, Any]) -> None:
        """Run a slash command and answer through its response_url."""
        given = translate.command_from_payload(body)
        response_url = body.get("response_url")
        channel, user = body.get("channel_id"), str(body.get("user_id"))
        try:
            reply = (
                await self.runtime.service.command(given)
                if given is not None
                else Reply(render.help_card())
            )
        except Exception:
            log.exception("slash command failed", extra={"command": body.get("command")})
            reply = Reply(render.failed())
        await self._answer(
            reply,
            ClickContext(
                user=user,
                channel=channel if isinstance(channel, str) else None,
                thread=None,
                response_url=response_url if isinstance(response_url, str) else None,
                ephemeral=True,
            ),
            prefer_response_url=True,
        )

    async def answer_form(self, ack: Any, body: Mapping[str, Any]) -> None:
        """A resolve form submitted or closed ("Skip"): recorded by the core before Slack
        hears back; the modal then shows the outcome (or the refusal)."""
        click = forms.click_from_view(body, skip=FORM_SKIP)
        if click is None:
            await ack()
            return
        try:
            reply = await self.runtime.service.click(click)
        except Exception:
            log.exception("form failed", extra={"action": click.action})
            reply = Reply(render.failed())
        if reply is None or body.get("type") != "view_submission":
            await ack()
        else:
            await ack(response_action="update", view=forms.result_view(reply.card))

    async def answer_click(self, click: ButtonClicked, where: ClickContext) -> None:
        """Let the core handle a click and show its answer to the clicker; a form it offers
        opens as a modal, or, when that fails, its card offers to open it later."""
        try:
            reply = await self.runtime.service.click(click)
        except Exception:
            log.exception("click failed", extra={"action": click.action})
            reply = Reply(render.failed())
        if reply is not None and reply.form is not None and where.trigger_id:
            try:
                await self.platform.open_view(
                    trigger_id=where.trigger_id, view=forms.modal(reply.form)
                )
                return
            except PlatformError as exc:  # an expired trigger: the card's buttons open it
                log.warning("could not open the resolve form: %s", exc)
        if reply is not None:
            await self._answer(reply, where, prefer_response_url=where.ephemeral)

    async def _answer(
        self, reply: Reply, where: ClickContext, *, prefer_response_url: bool
    ) -> None:
        """Deliver a Reply: in place (response_url), to the channel, or to the asker only."""
        card: Card = reply.card
        try:
            if reply.replace_original and where.response_url:
                await self.platform.respond(
                    response_url=where.response_url, card=card, replace_original=True
                )
            elif reply.public and where.channel:
                await self.platform.post(channel=where.channel, card=card, thread=where.thread)
            elif where.channel and not prefer_response_url:
                await self.platform.post_ephemeral(
                    channel=where.channel, user=where.user, card=card, thread=where.thread
                )
            elif where.response_url:
                await self.platform.respond(
                    response_url=where.response_url, card=card, ephemeral=not reply.public
                )
            else:
                log.warning("no way to answer a Slack interaction; answer dropped")
        except PlatformError as exc:
            if where.response_url and not reply.replace_original:
                log.warning("answer failed (%s); trying the response_url", exc)
                await self.platform.respond(
                    response_url=where.response_url, card=card, ephemeral=not reply.public
                )
            else:
                raise

    def _identity(self, context: Any) -> Identity:
        """Who the bot is: Bolt's auth.test result, plus the workspace URL (for permalinks)
        that Bolt does not keep; it is fetched at start-up and never on the request path."""
        known = self.platform.known_identity()
        if known is None:
            self.spawn(self.learn_identity(), "auth.test")
        return Identity(
            user_id=getattr(context, "bot_user_id", None) or (known.user_id if known else None),
            bot_id=getattr(context, "bot_id", None) or (known.bot_id if known else None),
            url=known.url if known else None,
        )

    async def learn_identity(self) -> None:
        """Ask auth.test once; a failure is logged and retried with the next event."""
        try:
            await self.platform.identity()
        except PlatformError as exc:
            log.warning("slack auth.test failed: %s", exc)

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run work after Slack has its answer (the runtime's one background runner)."""
        self.runtime.background.spawn(work, what=f"slack {what}")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A Slack request body as a dict: JSON (events), or a form (slash commands) whose
    `payload` field, when present, is JSON (interactivity). ValueError when it is neither."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8") from exc
    if not text.strip():
        raise ValueError("empty body")
    # load_json/clean bound the nesting and repair NUL and lone surrogates (ValueErrors).
    if "json" in content_type.lower() or text.lstrip().startswith("{"):
        parsed: object = load_json(text)
    else:
        form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
        parsed = load_json(form["payload"]) if "payload" in form else clean(form)
    if not isinstance(parsed, dict):
        raise ValueError("not a JSON object")
    return parsed


SLACK = web.AppKey("slack", SlackAdapter)


def mount(app: web.Application, runtime: Runtime) -> None:
    """Register `POST /slack/events` when the runtime has a Slack platform (SLACK_BOT_TOKEN)
    and SLACK_SIGNING_SECRET is set, and Socket Mode when SLACK_APP_TOKEN is set."""
    settings = runtime.settings
    platform = runtime.slack
    if platform is None:
        return
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    adapter = SlackAdapter(runtime=runtime, platform=platform, signing_secret=secret)
    app[SLACK] = adapter
    runtime.decoders[events.KIND] = adapter.decode
    if secret:
        app.router.add_post(EVENTS_PATH, adapter.handle)
    if app_token:
        _socket_mode(app, adapter, app_token)
    if not secret and not app_token:
        log.warning(
            "Slack can post but hears nothing: set SLACK_SIGNING_SECRET (HTTP) or "
            "SLACK_APP_TOKEN (Socket Mode)"
        )

    async def start(_: web.Application) -> None:
        # Bounded: a Slack outage at boot must not keep the HTTP server from starting.
        try:
            await asyncio.wait_for(adapter.learn_identity(), 5)
        except TimeoutError:
            log.warning("slack auth.test did not answer at start-up; will ask again later")

    app.on_startup.append(start)
    log.info("slack mounted", extra={"http": bool(secret), "socket_mode": bool(app_token)})


def _socket_mode(app: web.Application, adapter: SlackAdapter, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(adapter.bolt, app_token, web_client=adapter.platform.client)
    connecting: list[asyncio.Task[None]] = []

    async def connect() -> None:
        delay = 1.0
        while True:
            try:
                await handler.connect_async()  # type: ignore[no-untyped-call]
                log.info("slack socket mode connected")
                return
            except Exception as exc:  # keep serving HTTP; Slack may be unreachable for a while
                log.warning("slack socket mode connect failed (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def start(_: web.Application) -> None:
        connecting.append(asyncio.create_task(connect()))

    async def stop(_: web.Application) -> None:
        for task in connecting:
            task.cancel()
        await handler.close_async()  # type: ignore[no-untyped-call]

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
