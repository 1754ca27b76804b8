"""HTTP alert intake (Alertmanager, Grafana, generic JSON): see issue 6."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from adapters.server import Runtime


def mount(app: web.Application, runtime: Runtime) -> None:
    """Register the intake routes when ALERT_INGEST_TOKEN is set."""
