"""Teams transport: see issue 4."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from adapters.server import Runtime


def mount(app: web.Application, runtime: Runtime) -> None:
    """Register `POST /api/messages` when Teams is configured."""
