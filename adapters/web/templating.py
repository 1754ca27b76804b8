"""Jinja2 templates (autoescaped), the filters pages share, and the headers every page sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.registry import format_duration
from bot.scorecard_views import duration, percent

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# Pages carry no secrets in their URLs except the sign-in link, and none may leak through a
# Referer; nothing may frame them; only our own files run or style them.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:;"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def when(at: datetime | None) -> str:
    """A time as people in several time zones read it."""
    if at is None:
        return "—"
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(at: datetime | None) -> str:
    """A machine-readable time for <time datetime=...>."""
    return "" if at is None else at.astimezone(UTC).isoformat(timespec="seconds")


def span(delta: timedelta | None) -> str:
    """A duration in the registry's own notation (`15m`, `2h`)."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    return ("-" if seconds < 0 else "") + format_duration(timedelta(seconds=abs(seconds)))


def shown(value: object) -> str:
    """An evidence detail value: text as it is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "), default=str, ensure_ascii=False)


def limit(value: object) -> str:
    """A review threshold as the registry writes it: `30%`, `10m`, `5`."""
    if isinstance(value, timedelta):
        return span(value)
    if isinstance(value, float):
        return percent(value)
    return str(value)


def build_environment() -> Environment:
    """The template environment: every value escaped unless a template says otherwise."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        auto_reload=False,  # templates ship with the package: no stat per render
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["iso"] = iso
    env.filters["span"] = span
    env.filters["shown"] = shown
    env.filters["percent"] = percent
    env.filters["latency"] = duration
    env.filters["limit"] = limit
    env.filters["role"] = lambda r: str(r).replace("_", " ")
    return env


class Pages:
    """Renders named templates into responses with the console's headers."""

    def __init__(self, env: Environment | None = None) -> None:
        self.env = env or build_environment()

    def html(self, template: str, /, *, status: int = 200, **context: Any) -> web.Response:
        """Render `template` with `context`."""
        context.setdefault("here", "")
        body = self.env.get_template(template).render(**context)
        return self.raw(body, status=status)

    def raw(self, body: str, *, status: int = 200) -> web.Response:
        """An already rendered page."""
        return web.Response(
            text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS
        )
