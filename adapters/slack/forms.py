"""A neutral Form as a Slack modal (views.open with a click's trigger_id), and a modal's
view_submission / view_closed payloads back as the core's ButtonClicked: submitting sends the
form's `submit` action with the answers, closing it ("Skip") its `skip` action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.cards import Card, Form, FormField
from bot.domain import UserRef
from bot.events import ButtonClicked

PLATFORM = "slack"
DONE = "review.done"  # the result view; closing it means nothing
MAX_FIELDS = 12
MAX_ANSWER = 500


def _text(value: str, cap: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": (value or " ")[:cap], "emoji": False}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _text(label, 75), "value": value[:150]}


def _element(f: FormField) -> dict[str, Any]:
    if f.kind == "choice":
        element: dict[str, Any] = {
            "type": "static_select",
            "action_id": f.name,
            "options": [_option(v, label) for v, label in f.choices[:100]],
        }
        initial = next(((v, label) for v, label in f.choices if v == f.initial), None)
        if initial:
            element["initial_option"] = _option(*initial)
        return element
    if f.kind == "date":
        element = {"type": "datepicker", "action_id": f.name}
        if f.initial:
            element["initial_date"] = f.initial
        return element
    element = {"type": "plain_text_input", "action_id": f.name, "max_length": f.max_length}
    if f.initial:
        element["initial_value"] = f.initial
    return element


def modal(form: Form) -> dict[str, Any]:
    """The form as a modal view; its Close button is "Skip" and Slack tells us of it."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": form.intro[:3000] or " "}}
    ]
    blocks += [
        {
            "type": "input",
            "block_id": f.name,
            "optional": True,
            "label": _text(f.label, 2000),
            "element": _element(f),
        }
        for f in form.fields
    ]
    return {
        "type": "modal",
        "callback_id": form.submit,
        "private_metadata": form.value[:3000],
        "notify_on_close": True,
        "title": _text(form.title, 24),
        "submit": _text("Record", 24),
        "close": _text("Skip", 24),
        "blocks": blocks,
    }


def result_view(card: Card) -> dict[str, Any]:
    """What replaces the modal once the answers are in (or refused)."""
    return {
        "type": "modal",
        "callback_id": DONE,
        "title": _text("Incident review", 24),
        "close": _text("Close", 24),
        "blocks": [
            {"type": "section", "text": _text(card.plain_text(), 3000)},
        ],
    }


def _answer(state: Any) -> str | None:
    if not isinstance(state, dict):
        return None
    for key in ("value", "selected_date"):
        if isinstance(state.get(key), str):
            return str(state[key])[:MAX_ANSWER]
    option = state.get("selected_option")
    if isinstance(option, dict) and isinstance(option.get("value"), str):
        return str(option["value"])[:MAX_ANSWER]
    return ""  # left empty


def click_from_view(body: Mapping[str, Any], *, skip: str) -> ButtonClicked | None:
    """A view_submission (the answers) or view_closed (`skip`) as a ButtonClicked; None when
    the payload names no user or view."""
    user = body.get("user")
    view = body.get("view")
    if not isinstance(user, dict) or not isinstance(view, dict):
        return None
    user_id = user.get("id")
    callback = view.get("callback_id")
    if not isinstance(user_id, str) or not user_id or not isinstance(callback, str):
        return None
    value = view.get("private_metadata")
    fields: dict[str, str] = {}
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if body.get("type") == "view_submission" and isinstance(values, dict):
        for block in list(values.values())[:MAX_FIELDS]:
            if not isinstance(block, dict):
                continue
            for action_id, answer in list(block.items())[:MAX_FIELDS]:
                text = _answer(answer)
                if isinstance(action_id, str) and text is not None:
                    fields[action_id[:64]] = text
    return ButtonClicked(
        user=UserRef(PLATFORM, user_id),
        action=callback if body.get("type") == "view_submission" else skip,
        value=value if isinstance(value, str) else "",
        fields=fields,
    )
