"""Slack message events straight into the inbox (issue 12): Bolt's dispatch is skipped for the
one event that can carry an alert. `SlackAdapter.handle` has already verified the signature
(slack_sdk's SignatureVerifier, before parsing) and checked the payload; a `message` event
callback in a watched channel is then recorded, and Slack hears 200 once it is durably
recorded, or 503 when it cannot be (Slack delivers it again). The inbox worker
(adapters.inbox_worker) turns the recorded body into an alert through `decode`, after the
answer. Other events, slash commands and interactivity stay with Bolt."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from adapters.slack import translate
from adapters.slack.translate import Identity
from bot.events import AlertSeen
from store.inbox import Delivery, Inbox, RecordFailed

log = logging.getLogger(__name__)

KIND = "slack_event"


def wants(payload: Mapping[str, Any], *, watched: frozenset[str]) -> bool:
    """Whether a verified payload is a `message` event callback in a watched channel with an
    event id: the only deliveries that may carry an alert."""
    if payload.get("type") != "event_callback" or not isinstance(payload.get("event_id"), str):
        return False
    event = payload.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        return False
    channel = event.get("channel")
    return isinstance(channel, str) and channel in watched


async def record(inbox: Inbox, payload: Mapping[str, Any]) -> web.Response:
    """Record the verified, cleaned body; 200 once committed (a redelivery too), 503 when it
    is not."""
    try:
        await inbox.record(
            platform=translate.PLATFORM,
            delivery_id=str(payload["event_id"]),
            kind=KIND,
            payload=json.dumps(payload),
        )
    except RecordFailed:
        log.exception(
            "could not record a Slack event; answering 503 so Slack delivers it again",
            extra={"event_id": payload.get("event_id")},
        )
        return web.json_response({"error": "storage unavailable, retry"}, status=503)
    return web.Response(status=200)


def decode(delivery: Delivery, *, me: Identity, watched: frozenset[str]) -> list[AlertSeen]:
    """The alert in a recorded event body (none when it is not one, e.g. the bot's own post)."""
    body = json.loads(delivery.payload)
    if me.user_id is None:  # auth.test not answered yet: the installation's own bot user
        for grant in body.get("authorizations") or ():
            if isinstance(grant, dict) and grant.get("is_bot") and grant.get("user_id"):
                me = Identity(user_id=str(grant["user_id"]), bot_id=me.bot_id, url=me.url)
    seen = translate.alert_from_event(body, me=me, watched=watched)
    return [seen] if seen is not None else []
