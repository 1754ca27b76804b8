"""The shape a signed Slack payload must have before Bolt or any listener reads it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_payload(body: Mapping[str, Any]) -> str | None:
    """Why a signed payload cannot be handled (answer 400), or None when it is well formed.

    Bolt trusts the shape of what it parses; a signed but malformed body must be refused
    here, before any listener runs, rather than surface as a 500.
    """
    kind = body.get("type")
    if "command" in body:
        for key in ("command", "user_id", "team_id"):
            if not isinstance(body.get(key), str) or not body.get(key):
                return f"slash command without {key}"
        if "response_url" in body and not isinstance(body["response_url"], str):
            return "response_url is not a string"
        return None
    if kind == "url_verification":
        return None if isinstance(body.get("challenge"), str) else "challenge missing"
    if kind == "ssl_check" or body.get("ssl_check"):
        return None
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "event_callback without an event object"
        if not isinstance(body.get("event_id"), str):
            return "event_callback without event_id"
        if "message" in event and not isinstance(event["message"], dict):
            return "message_changed without a message object"
        for holder in (event, event.get("message") or {}):
            if holder.get("subtype") is not None and not isinstance(holder["subtype"], str):
                return "subtype is not a string"
        for key in ("attachments", "blocks"):
            for holder in (event, event.get("message") or {}):
                if key in holder and not isinstance(holder[key], list):
                    return f"{key} is not a list"
        return None
    if kind == "block_actions":
        user = body.get("user")
        actions = body.get("actions")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            return "block_actions without a user"
        if (
            not isinstance(actions, list)
            or not actions
            or not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
        ):
            return "block_actions without actions"
        for key in ("container", "channel", "message", "state"):
            if key in body and not isinstance(body[key], dict):
                return f"{key} is not an object"
        return None
    if isinstance(kind, str):
        return None  # other interactivity (view_submission, shortcuts): Bolt answers 404
    return "not a Slack event, command or interaction payload"
