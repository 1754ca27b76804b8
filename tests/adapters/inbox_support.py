"""Shared by the wire-level tests of platforms whose deliveries go through the inbox."""

from __future__ import annotations

import asyncio
from typing import Any


async def work_off(runtime: Any) -> None:
    """Wait until the inbox worker of a running app has taken every delivery recorded (an
    event is answered once recorded and its alert stored after)."""
    inbox = runtime.inbox
    async with asyncio.timeout(30):
        while inbox is not None:
            try:
                if not await inbox.pending():
                    return
            except Exception:  # a test broke the storage on purpose: nothing to wait for
                return
            await asyncio.sleep(0.005)
