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

# Deep enough for any real payload (a Slack message_changed event with rich-text blocks
# inside attachments is about a dozen levels), shallow enough for every recursive reader.
MAX_DEPTH = 32
REPLACEMENT = "\ufffd"


class Malformed(ValueError):
    """The body is not JSON, or is nested deeper than MAX_DEPTH."""


def clean_text(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD (linear; a no-op for clean text)."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 with surrogatepass joins split pairs back into one character and turns each
        # lone half into U+FFFD, in C and in one pass.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


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
    """A copy of a decoded JSON value with every string (keys too) passed through
    `clean_text`; Malformed when objects and arrays nest deeper than MAX_DEPTH."""
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
