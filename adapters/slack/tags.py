"""Claim posts tagged with their alert's identity (Slack message metadata), and the search a
worker makes when it takes a lapsed posting lease over: a claim posted just before a crash,
never recorded, is found and adopted instead of being posted a second time (bot.claims)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.translate import Identity
from bot.domain import MessageRef
from bot.ports import ClaimTag, PlatformError

CLAIM_EVENT = "accountability_claim"  # the metadata event_type of claim posts
ADOPT_WINDOW = 50  # how many recent messages (thread replies or channel history) are searched
NO_HISTORY = frozenset({"missing_scope", "not_allowed_token_type"})


class _Slack(Protocol):
    """What the search needs of adapters.slack.platform.SlackPlatform (no import back)."""

    name: str
    client: AsyncWebClient

    def _call(self, what: str) -> AbstractAsyncContextManager[None]: ...

    async def identity(self) -> Identity: ...


def metadata(tag: ClaimTag) -> dict[str, Any]:
    """chat.postMessage `metadata` naming the alert a claim belongs to."""
    return {"event_type": CLAIM_EVENT, "event_payload": _payload(tag)}


def _payload(tag: ClaimTag) -> dict[str, Any]:
    return {"alert_id": tag.alert_id, "opened_at": tag.opened_at.isoformat()}


async def find_claim(
    slack: _Slack, *, channel: str, thread: str | None, tag: ClaimTag
) -> MessageRef | None:
    """The bot's own message tagged `tag` among the thread's replies (conversations.replies)
    or the channel's latest messages (conversations.history), at most ADOPT_WINDOW of them.
    A token without the history scopes finds nothing and the claim is posted as before;
    other failures propagate, so the post waits for the next tick rather than risk a twin."""
    bot_id = (await slack.identity()).bot_id
    what = "conversations.replies" if thread else "conversations.history"
    try:
        async with slack._call(what):
            if thread:
                found = await slack.client.conversations_replies(
                    channel=channel, ts=thread, include_all_metadata=True, limit=ADOPT_WINDOW
                )
            else:
                found = await slack.client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=ADOPT_WINDOW
                )
    except PlatformError as exc:  # adapters.slack.platform.SlackCallError, with Slack's code
        if getattr(exc, "error", None) not in NO_HISTORY:
            raise
        return None
    wanted = metadata(tag)
    for message in found.get("messages") or []:
        if (
            isinstance(message, dict)
            and message.get("metadata") == wanted
            and (bot_id is None or message.get("bot_id") == bot_id)
            and message.get("ts")
        ):
            return MessageRef(slack.name, channel, str(message["ts"]), thread)
    return None
