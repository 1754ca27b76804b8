"""Outbound to Slack: a neutral Card becomes Block Kit plus the plain `text` Slack uses for
notifications and fallbacks. Pure functions, no I/O (inbound lives in translate.py)."""

from __future__ import annotations

import re
from typing import Any

from adapters.slack.translate import BUTTONS_BLOCK, PICK_BLOCK, TEXT_BLOCK
from bot.cards import Button, Card, Inline, Line, Mention, TextField

_TONE_EMOJI = {"alert": ":rotating_light: ", "warning": ":warning: ", "ok": ":white_check_mark: "}
_SECTION_LIMIT = 3000
_FIELD_LIMIT = 2000
_TEXT_LIMIT = 3000
_USER_ID = re.compile(r"[A-Z0-9]+")


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link_target(url: str) -> str:
    """A URL made safe inside `<url|label>`: `|`, `<`, `>` (and whitespace, which ends the
    link) percent-encoded, `&` written as Slack's `&amp;`. Otherwise a link carrying
    `><!channel>` would close the link and ping the whole channel."""
    encoded = re.sub(r"[|<>\s]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), url)
    return encoded.replace("&", "&amp;")


def _inline(part: Inline) -> str:
    if isinstance(part, Mention):
        if part.user is not None and _USER_ID.fullmatch(part.user.id):
            return f"<@{part.user.id}>"
        return escape(part.name)  # no Slack id, or not one (never raw text inside `<@…>`)
    return escape(part)


def mrkdwn(line: Line) -> str:
    """One card line as mrkdwn: text escaped, mentions as `<@U…>`."""
    return "".join(_inline(p) for p in line)


def _plain_text(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit] or " ", "emoji": True}


def _button(button: Button, action_id: str) -> dict[str, Any]:
    if button.picks_user:
        return {
            "type": "users_select",
            "action_id": action_id,
            "placeholder": _plain_text(button.label, 150),
        }
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": _plain_text(button.label),
        "value": button.value[:2000],
    }
    if button.style != "default":
        element["style"] = button.style
    return element


def _action_blocks(buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    """One actions row per button value (a digest offers "Still mine" / "Hand off" per role),
    in order. A row with a user picker carries the value in its block id."""
    rows: dict[str, list[Button]] = {}
    for b in buttons:
        rows.setdefault(b.value, []).append(b)
    blocks: list[dict[str, Any]] = []
    for n, (value, row) in enumerate(rows.items()):
        used: dict[str, int] = {}
        elements = []
        for b in row:
            used[b.action] = used.get(b.action, 0) + 1
            action_id = b.action if used[b.action] == 1 else f"{b.action}#{used[b.action]}"
            elements.append(_button(b, action_id))
        picks = any(b.picks_user for b in row)
        block_id = f"{PICK_BLOCK}{value}" if picks else f"{BUTTONS_BLOCK}|{n}"
        blocks.append({"type": "actions", "block_id": block_id[:255], "elements": elements})
    return blocks


def _text_block(field: TextField) -> dict[str, Any]:
    """A message input block: its value comes back in `state.values` with any button click."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": TEXT_BLOCK,
        "max_length": field.max_length,
    }
    if field.placeholder:
        element["placeholder"] = _plain_text(field.placeholder, 150)
    return {
        "type": "input",
        "block_id": TEXT_BLOCK,
        "optional": True,
        "label": _plain_text(field.label, 2000),
        "element": element,
    }


def card_blocks(card: Card) -> list[dict[str, Any]]:
    """A neutral card as Block Kit: title, lines (mentions as `<@U…>`), fields, a link to the
    alert, and buttons with the card's stable action ids (a user picker for hand-offs)."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{_TONE_EMOJI.get(card.tone, '')}*{escape(card.title)}*"[:_SECTION_LIMIT],
            },
        }
    ]
    chunk: list[str] = []
    size = 0
    for line in card.lines:
        text = mrkdwn(line)
        if chunk and size + len(text) + 1 > _SECTION_LIMIT:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk, size = [], 0
        chunk.append(text[:_SECTION_LIMIT])
        size += len(text) + 1
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    fields = [
        {"type": "mrkdwn", "text": f"*{escape(k)}*\n{escape(v)}"[:_FIELD_LIMIT]}
        for k, v in card.fields
    ]
    for start in range(0, len(fields), 10):
        blocks.append({"type": "section", "fields": fields[start : start + 10]})
    if card.link:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{link_target(card.link)}|View the alert>"}
                ],
            }
        )
    if card.text_field is not None:
        blocks.append(_text_block(card.text_field))
    blocks.extend(_action_blocks(card.buttons))
    return blocks


def card_text(card: Card) -> str:
    """The plain `text` of a message: what notifications and screen readers show. Mentions
    stay `<@U…>` so the named person is notified."""
    parts = [escape(card.title)]
    if card.lines:
        parts.append(mrkdwn(card.lines[0]))
    return "\n".join(parts)[:_TEXT_LIMIT]


def message_args(card: Card) -> dict[str, Any]:
    """`text` and `blocks` for chat.postMessage, chat.update, chat.postEphemeral and
    response_url answers."""
    return {"text": card_text(card), "blocks": card_blocks(card)}
