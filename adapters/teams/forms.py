"""A neutral Form as an Adaptive Card: Input.ChoiceSet, Input.Text and Input.Date with a
Record button (Action.Execute, Action.Submit for older clients) that sends the answers beside
the form's action, and a Skip button that sends none."""

from __future__ import annotations

from typing import Any

from adapters.teams.adaptive import ADAPTIVE, CARD_VERSION
from bot.cards import Form, FormField


def _input(f: FormField) -> dict[str, Any]:
    if f.kind == "choice":
        item: dict[str, Any] = {
            "type": "Input.ChoiceSet",
            "style": "compact",
            "choices": [{"title": label, "value": value} for value, label in f.choices[:100]],
        }
    elif f.kind == "date":
        item = {"type": "Input.Date"}
    else:
        item = {"type": "Input.Text", "maxLength": f.max_length}
    item |= {"id": f.name, "label": f.label, "isRequired": False}
    if f.initial:
        item["value"] = f.initial
    return item


def _button(title: str, action: str, value: str, *, inputs: bool) -> dict[str, Any]:
    data = {"action": action, "value": value}
    common = {"title": title, "data": data, "associatedInputs": "auto" if inputs else "none"}
    return {
        "type": "Action.Execute",
        "verb": action,
        **common,
        "style": "positive" if inputs else "default",
        "fallback": {"type": "Action.Submit", **common},
    }


def form_card(form: Form) -> dict[str, Any]:
    """The form as an Adaptive Card 1.5."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": form.title, "weight": "Bolder", "size": "Medium"},
        {"type": "TextBlock", "text": form.intro, "wrap": True},
        *(_input(f) for f in form.fields),
    ]
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
        "actions": [
            _button("Record", form.submit, form.value, inputs=True),
            _button("Skip", form.skip, form.value, inputs=False),
        ],
    }


def form_activity(form: Form) -> dict[str, Any]:
    """A message activity carrying the form."""
    return {
        "type": "message",
        "summary": form.title,
        "attachments": [{"contentType": ADAPTIVE, "content": form_card(form)}],
    }
