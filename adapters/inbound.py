"""Inbound JSON at the boundary, before anything else reads it: nesting bounded, and every
string made into text that any store and platform accepts.

A signed Slack body or an intake delivery can be nested a thousand levels deep (every
recursive reader after `json.loads` then raises `RecursionError`), and can carry a NUL
(PostgreSQL refuses it) or a lone surrogate (a sender cutting an emoji in half; nothing can
encode it). Both used to surface as a 500, or as a 503 on every redelivery. Here the walk is
iterative and linear in the size of the value, and the repair is deterministic, so a
redelivery of the same bytes is recognised as the same delivery.
"""

from __future__ import annotations

import json
from typing import Any

from bot.text import clean as clean_text

# Deep enough for any real payload (a Slack message_changed event with rich-text blocks
# inside attachments is about a dozen levels), shallow enough for every recursive reader.
MAX_DEPTH = 32


class Malformed(ValueError):
    """The body is not JSON, or is nested deeper than MAX_DEPTH."""


def load_json(raw: bytes | str) -> Any:
    """The JSON value of a body, cleaned (see `clean`); Malformed when it cannot be."""
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise Malformed(f"not valid JSON: nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise Malformed(f"not valid JSON: {exc}") from exc
    return clean(value)


def clean(value: Any) -> Any:
    """A copy of a decoded JSON value with every string (keys too) capped and made storable
    by `bot.text.clean`; Malformed when objects and arrays nest deeper than MAX_DEPTH."""
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, dict | list):
        return value
    root: dict[str, Any] | list[Any] = {} if isinstance(value, dict) else []
    stack: list[tuple[dict[str, Any] | list[Any], dict[str, Any] | list[Any], int]] = [
        (value, root, 1)
    ]
    while stack:
        source, target, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Malformed(f"nested deeper than {MAX_DEPTH} levels")
        pairs = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in pairs:
            if isinstance(item, str):
                item = clean_text(item)
            elif isinstance(item, dict | list):
                copy: dict[str, Any] | list[Any] = {} if isinstance(item, dict) else []
                stack.append((item, copy, depth + 1))
                item = copy
            if isinstance(target, dict):
                target[clean_text(str(key))] = item
            else:
                target.append(item)
    return root
