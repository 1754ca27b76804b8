"""Rendering the sandbox: Jinja2 templates (autoescaped) under `templates/sandbox/`, the
neutral card as HTML (`templates/sandbox/card.html`), and the headers every page sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.cards import Mention
from bot.registry import format_duration

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
STATIC_FILES = {"sandbox.css": "text/css", "sandbox.js": "text/javascript"}

# Only our own files style and script the pages; nothing frames them; forms post only here.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",  # so forms send an Origin the guard can check
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def when(at: datetime | None) -> str:
    """A time as the cards write it."""
    return "" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(delta: timedelta) -> str:
    """A duration in the registry's own notation (`40m`, `1d`)."""
    return format_duration(timedelta(seconds=int(delta.total_seconds())))


def pretty(value: Any) -> str:
    """A payload as indented JSON for a <pre>."""
    return json.dumps(value, indent=2, sort_keys=False, default=str)


def is_mention(part: Any) -> bool:
    """Jinja test: a mention inside a card line."""
    return isinstance(part, Mention)


def build_environment() -> Environment:
    """The template environment: every value escaped unless a template says otherwise."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["pretty"] = pretty
    env.filters["span"] = span
    env.tests["mention"] = is_mention
    return env


ENV = build_environment()


def page(template: str, context: dict[str, Any]) -> web.Response:
    """A rendered page with the sandbox's headers."""
    body = ENV.get_template(f"sandbox/{template}").render(**context)
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers=HEADERS)


def static(name: str) -> web.Response:
    """One of the sandbox's own static files."""
    kind = STATIC_FILES.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=(STATIC / name).read_bytes(),
        content_type=kind,
        charset="utf-8",
        headers={**HEADERS, "Cache-Control": "no-cache"},
    )
