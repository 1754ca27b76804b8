"""Pure converters between Slack payloads and the core's neutral events and cards.

Nothing here does I/O: a Slack payload (already signature-checked) becomes an AlertSeen,
ButtonClicked or CommandGiven, or None when it is not for us. Outbound (cards to Block Kit)
lives in blocks.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from adapters.slack.commands import slash_command
from adapters.slack.mrkdwn import plain
from bot.domain import MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked, CommandGiven
from bot.matching import status_of
from bot.text import TEXT_CAP, clean

PLATFORM = "slack"

# Every action id the bot puts on a card (bot.cards: alert.ack, board.ack, stop.confirm, …);
# a `#n` suffix keeps ids unique within one block when a card repeats an action.
ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+(?:#\d+)?$")
PICK_BLOCK = "pick|"  # block_id prefix carrying the value of a user picker (users_select has none)
BUTTONS_BLOCK = "actions"
TEXT_BLOCK = "text_field"  # block_id and action_id of a card's one-line text box
TEXT_CAP_CLICK = 1_000  # what a click carries back from the text box (the core caps further)


# Message subtypes that are someone posting; everything else (joins, topic changes, deletions)
# is housekeeping. `message_changed` is handled apart: only a change to "resolved" counts.
POSTED_SUBTYPES = frozenset({None, "bot_message", "file_share"})


class PayloadError(ValueError):
    """A signed payload that is not shaped like anything Slack sends: answer 400."""


# ---- small helpers ----------------------------------------------------------------------


def _dict(value: object) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# ---- inbound: alert messages -------------------------------------------------------------


def _text_object(value: object) -> str | None:
    obj = _dict(value)
    return _str(obj.get("text"))


def _rich_text(elements: Iterable[Any]) -> Iterator[str]:
    """Flatten rich_text elements (sections, lists, quotes, preformatted) into lines."""
    for element in elements:
        el = _dict(element)
        kind = el.get("type")
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            parts: list[str] = []
            for leaf in _list(el.get("elements")):
                leaf_d = _dict(leaf)
                leaf_kind = leaf_d.get("type")
                if leaf_kind == "text" or leaf_kind == "link":
                    parts.append(str(leaf_d.get("text") or leaf_d.get("url") or ""))
                elif leaf_kind == "user":
                    parts.append(f"@{leaf_d.get('user_id', '')}")
                elif leaf_kind == "channel":
                    parts.append(f"#{leaf_d.get('channel_id', '')}")
                elif leaf_kind == "emoji":
                    continue
            yield "".join(parts)
        elif kind == "rich_text_list":
            yield from _rich_text(_list(el.get("elements")))


def _block_lines(blocks: Iterable[Any]) -> Iterator[str]:
    for block in blocks:
        b = _dict(block)
        kind = b.get("type")
        if kind in ("header", "section"):
            if text := _text_object(b.get("text")):
                yield text
            for field in _list(b.get("fields")):
                if text := _text_object(field):
                    # "*Status:*\nResolved" reads as one "label: value" line
                    yield " ".join(text.split("\n"))
        elif kind == "context":
            texts = [t for e in _list(b.get("elements")) if (t := _text_object(e))]
            if texts:
                yield " | ".join(texts)
        elif kind == "rich_text":
            yield from _rich_text(_list(b.get("elements")))


def _attachment_lines(attachment: Mapping[str, Any]) -> Iterator[str]:
    before = 0
    for key in ("pretext", "title", "text"):
        if text := _str(attachment.get(key)):
            before += 1
            yield text
    for field in _list(attachment.get("fields")):
        f = _dict(field)
        title, value = _str(f.get("title")), _str(f.get("value"))
        if title and value:
            yield f"{title}: {value}"
        elif title or value:
            yield title or value or ""
    blocks = list(_block_lines(_list(attachment.get("blocks"))))
    yield from blocks
    if not before and not blocks and (fallback := _str(attachment.get("fallback"))):
        yield fallback


def message_text(message: Mapping[str, Any]) -> str:
    """Everything a reader sees in a Slack message, as plain lines: `text`, then attachments
    (pretext, title, text, fields, their blocks), then blocks. Monitoring integrations put
    their words in attachments or blocks and often leave `text` empty or a fallback copy."""
    raw: list[str] = []
    if text := _str(message.get("text")):
        raw.append(text)
    for attachment in _list(message.get("attachments")):
        raw.extend(_attachment_lines(_dict(attachment)))
    raw.extend(_block_lines(_list(message.get("blocks"))))
    lines: list[str] = []
    seen: set[str] = set()
    budget = TEXT_CAP  # characters read in all: past it, nothing more is looked at
    for whole in raw:
        if budget <= 0:
            break
        chunk = whole[:budget]
        budget -= len(chunk)
        for line in plain(chunk).splitlines():
            key = " ".join(line.split()).lower()
            if not key:
                if lines and lines[-1]:
                    lines.append("")
                continue
            if key in seen:
                continue
            seen.add(key)
            lines.append(line)
    return "\n".join(lines).strip()


@dataclass(frozen=True)
class Identity:
    """Who the bot is in this workspace (from auth.test), to ignore its own posts."""

    user_id: str | None = None
    bot_id: str | None = None
    url: str | None = None


def permalink(base_url: str | None, channel: str, ts: str) -> str | None:
    """Slack's permalink form for a top-level message, from the workspace URL of auth.test."""
    if not base_url or not re.fullmatch(r"\d+\.\d+", ts):
        return None
    return f"{base_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


def human_author(message: Mapping[str, Any]) -> str | None:
    """The Slack user id of the person who typed a message; None for an integration's post
    (a `bot_id` or `bot_profile`, the `bot_message` subtype) or a message with no user."""
    if (
        message.get("bot_id")
        or message.get("bot_profile")
        or message.get("subtype") == "bot_message"
    ):
        return None
    return _str(message.get("user"))


def _is_own(message: Mapping[str, Any], me: Identity) -> bool:
    if me.bot_id and message.get("bot_id") == me.bot_id:
        return True
    return bool(me.user_id and message.get("user") == me.user_id)


def alert_from_event(
    body: Mapping[str, Any],
    *,
    me: Identity,
    watched: frozenset[str],
) -> AlertSeen | None:
    """The alert in an Events API `message` callback, or None when it is not one: not in a
    watched channel, a thread reply, housekeeping, the bot's own post, or an edit that does
    not announce a resolution."""
    event = _dict(body.get("event"))
    event_id = _str(body.get("event_id"))
    channel = _str(event.get("channel"))
    if event.get("type") != "message" or event_id is None or channel is None:
        return None
    if channel not in watched:
        return None
    subtype = event.get("subtype")
    edited = subtype == "message_changed"
    message = _dict(event.get("message")) if edited else dict(event)
    if not edited and subtype not in POSTED_SUBTYPES:
        return None
    if edited and message.get("subtype") not in POSTED_SUBTYPES:
        return None
    ts = _str(message.get("ts"))
    if ts is None or _is_own(message, me):
        return None
    thread_ts = _str(message.get("thread_ts"))
    if thread_ts and thread_ts != ts:
        return None  # talk in a thread, including under the bot's own claims
    text = message_text(message)
    if not text:
        return None
    status = status_of(text)
    if edited and status != "resolved":
        return None  # integrations edit their post as an incident moves; only the end counts
    author = human_author(message)
    bot = _str(message.get("bot_id")) or _str(_dict(message.get("bot_profile")).get("app_id"))
    return AlertSeen(
        platform=PLATFORM,
        channel=channel,
        text=text,
        event_id=event_id,
        title=text.splitlines()[0].strip(" *_~`")[:200] or None,
        message=MessageRef(PLATFORM, channel, ts),
        status="resolved" if edited else None,
        link=permalink(me.url, channel, ts),
        author=UserRef(PLATFORM, author) if author else None,
        integration=f"slack:{bot}" if bot and not author else None,  # set by Slack, not forgeable
    )


def is_from_person(body: Mapping[str, Any]) -> bool:
    """True when a message event was typed by a person rather than posted by an integration."""
    event = _dict(body.get("event"))
    message = _dict(event.get("message")) if event.get("subtype") == "message_changed" else event
    return human_author(message) is not None


# ---- inbound: clicks and commands ---------------------------------------------------------


def base_action(action_id: str) -> str:
    """An action id without the uniqueness suffix added for repeated buttons."""
    return action_id.split("#", 1)[0]


@dataclass(frozen=True)
class ClickContext:
    """Where a click came from, for the answer: channel, thread, clicker, response_url."""

    user: str
    channel: str | None
    thread: str | None
    response_url: str | None
    ephemeral: bool
    trigger_id: str | None = None  # lets the answer open a modal (for 3 s)


def click_from_payload(body: Mapping[str, Any]) -> tuple[ButtonClicked, ClickContext] | None:
    """A block_actions payload as a ButtonClicked (first action only) and its context."""
    if body.get("type") != "block_actions":
        return None
    user = _str(_dict(body.get("user")).get("id"))
    actions = _list(body.get("actions"))
    if user is None or not actions:
        return None
    action = _dict(actions[0])
    action_id = _str(action.get("action_id"))
    if action_id is None:
        return None
    target: UserRef | None = None
    if action.get("type") == "users_select":
        picked = _str(action.get("selected_user"))
        target = UserRef(PLATFORM, picked) if picked else None
        block_id = _str(action.get("block_id")) or ""
        value = block_id.removeprefix(PICK_BLOCK) if block_id.startswith(PICK_BLOCK) else ""
    else:
        value = _str(action.get("value")) or ""
    container = _dict(body.get("container"))
    channel = _str(_dict(body.get("channel")).get("id")) or _str(container.get("channel_id"))
    message = _dict(body.get("message"))
    ephemeral = bool(container.get("is_ephemeral")) or not message
    ref: MessageRef | None = None
    thread: str | None = None
    if message and channel and (ts := _str(message.get("ts"))):
        thread = _str(message.get("thread_ts")) or ts
        ref = MessageRef(PLATFORM, channel, ts, _str(message.get("thread_ts")))
    click = ButtonClicked(
        user=UserRef(PLATFORM, user),
        action=base_action(action_id),
        value=value,
        message=ref,
        target=target,
        text=typed_text(body),
    )
    return click, ClickContext(
        user,
        channel,
        thread,
        _str(body.get("response_url")),
        ephemeral,
        trigger_id=_str(body.get("trigger_id")),
    )


def typed_text(body: Mapping[str, Any]) -> str:
    """What the clicker typed in the card's text box (`state.values`), capped; "" for none."""
    values = _dict(_dict(body.get("state")).get("values"))
    typed = _str(_dict(_dict(values.get(TEXT_BLOCK)).get(TEXT_BLOCK)).get("value"))
    return clean(typed, cap=TEXT_CAP_CLICK) if typed else ""


def command_from_payload(body: Mapping[str, Any]) -> CommandGiven | None:
    """A slash-command form as a CommandGiven; None for a command the bot does not know."""
    parsed = slash_command(str(body.get("command") or ""), plain(str(body.get("text") or "")))
    user = _str(body.get("user_id"))
    if parsed is None or user is None:
        return None
    return CommandGiven(
        user=UserRef(PLATFORM, user),
        command=parsed[0],
        args=parsed[1],
        channel=_str(body.get("channel_id")),
    )
