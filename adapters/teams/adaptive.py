"""Outbound to Teams: a neutral Card becomes an Adaptive Card (Action.Execute buttons, a user
picker for hand-offs), a message activity, or an invoke answer. Pure functions, no I/O
(inbound lives in translate.py)."""

from __future__ import annotations

from typing import Any

from adapters.teams.translate import TARGET_INPUT, TEXT_INPUT
from bot.cards import Button, Card, Mention

ADAPTIVE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
INVOKE_CARD = "application/vnd.microsoft.card.adaptive"
INVOKE_MESSAGE = "application/vnd.microsoft.activity.message"
INVOKE_ERROR = "application/vnd.microsoft.error"

_COLORS = {"alert": "Attention", "warning": "Warning", "ok": "Good", "info": "Default"}
_STYLES = {"primary": "positive", "danger": "destructive", "default": "default"}


def _mention_text(mention: Mention) -> str:
    return f"<at>{mention.name}</at>"


def _line_text(line: tuple[str | Mention, ...]) -> str:
    return "".join(
        part
        if isinstance(part, str)
        else (_mention_text(part) if part.user is not None else part.name)
        for part in line
    )


def _data(button: Button) -> dict[str, str]:
    return {"action": button.action, "value": button.value}


def _execute(button: Button) -> dict[str, Any]:
    """Action.Execute (Universal Actions) with an Action.Submit fallback for older clients."""
    return {
        "type": "Action.Execute",
        "title": button.label,
        "verb": button.action,
        "data": _data(button),
        "style": _STYLES[button.style],
        "fallback": {
            "type": "Action.Submit",
            "title": button.label,
            "data": _data(button),
            "style": _STYLES[button.style],
        },
    }


def _action(button: Button) -> dict[str, Any]:
    if not button.picks_user:
        return _execute(button)
    # Hand-off asks whom to: the Teams people picker returns the chosen person's AAD object id.
    return {
        "type": "Action.ShowCard",
        "title": button.label,
        "card": {
            "type": "AdaptiveCard",
            "body": [
                {
                    "type": "Input.ChoiceSet",
                    "id": TARGET_INPUT,
                    "label": f"{button.label} to",
                    "isRequired": True,
                    "errorMessage": "Pick the person who takes it over.",
                    "choices": [],
                    "choices.data": {"type": "Data.Query", "dataset": "graph.microsoft.com/users"},
                }
            ],
            "actions": [_execute(button)],
        },
    }


def adaptive_card(card: Card) -> dict[str, Any]:
    """A neutral card as an Adaptive Card 1.5 with Teams mentions."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": card.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": _COLORS.get(card.tone, "Default"),
        }
    ]
    body += [{"type": "TextBlock", "text": _line_text(line), "wrap": True} for line in card.lines]
    if card.fields:
        body.append(
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in card.fields]}
        )
    if card.text_field is not None:
        body.append(
            {
                "type": "Input.Text",
                "id": TEXT_INPUT,
                "label": card.text_field.label,
                "placeholder": card.text_field.placeholder,
                "maxLength": card.text_field.max_length,
                "isMultiline": False,
            }
        )
    actions = [_action(b) for b in card.buttons]
    if card.link:
        actions.append({"type": "Action.OpenUrl", "title": "Open", "url": card.link})
    entities = []
    seen: set[tuple[str, str]] = set()
    for line in card.lines:
        for part in line:
            if isinstance(part, Mention) and part.user is not None:
                key = (part.user.id, part.name)
                if key not in seen:
                    seen.add(key)
                    entities.append(
                        {
                            "type": "mention",
                            "text": _mention_text(part),
                            "mentioned": {"id": part.user.id, "name": part.name},
                        }
                    )
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        content["actions"] = actions
    if entities:
        content["msteams"]["entities"] = entities
    return content


def card_attachment(card: Card) -> dict[str, Any]:
    """The attachment that carries a card in a message activity."""
    return {"contentType": ADAPTIVE, "content": adaptive_card(card)}


def message_activity(card: Card, *, message_id: str | None = None) -> dict[str, Any]:
    """A message activity carrying a card (with `id` when it replaces an existing message)."""
    activity: dict[str, Any] = {
        "type": "message",
        "summary": card.title,
        "attachments": [card_attachment(card)],
    }
    if message_id is not None:
        activity["id"] = message_id
    return activity


def invoke_card(card: Card) -> dict[str, Any]:
    """An `adaptiveCard/action` answer that replaces the clicked card."""
    return {"statusCode": 200, "type": INVOKE_CARD, "value": adaptive_card(card)}


def invoke_message(text: str) -> dict[str, Any]:
    """An `adaptiveCard/action` answer shown only to the person who clicked."""
    return {"statusCode": 200, "type": INVOKE_MESSAGE, "value": text[:1000]}


def invoke_error(status: int, message: str) -> dict[str, Any]:
    """An `adaptiveCard/action` answer for a click the bot cannot take."""
    code = "BadRequest" if status == 400 else "Error"
    return {"statusCode": status, "type": INVOKE_ERROR, "value": {"code": code, "message": message}}
