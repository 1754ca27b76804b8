"""Helpers for the operations tests: a real runtime on a SQLite temp file with an in-memory
Slack workspace and a hand-moved clock, and a bounded wait for what the scheduler does."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.fake import InMemoryPlatform, ManualClock
from adapters.runtime import Runtime, build_runtime
from adapters.settings import Settings
from bot.domain import MessageRef
from bot.events import AlertSeen
from tests.conftest import EXAMPLE, PEOPLE


def workspace() -> InMemoryPlatform:
    """The example's people on an in-memory Slack."""
    chat = InMemoryPlatform(name="slack")
    for uid, email in PEOPLE.items():
        chat.add_user(uid, email)
    return chat


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings on a copy of the example registry and a SQLite file under `tmp_path`."""
    registry = tmp_path / "ownership.yaml"
    if not registry.exists():
        shutil.copy(EXAMPLE, registry)
    values: dict[str, Any] = {
        "ownership_file": str(registry),
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "tz": "UTC",
        "stale_scan_cron": "0 9 * * mon",
        "escalation_tick": "1s",
    }
    values.update(overrides)
    return Settings(**values)


async def runtime_for(
    settings: Settings, clock: ManualClock, chat: InMemoryPlatform | None = None
) -> Runtime:
    """A runtime whose Slack is the in-memory workspace."""
    runtime = await build_runtime(settings, clock=clock)
    runtime.platforms["slack"] = chat or workspace()
    return runtime


def alert(text: str, *, event: str) -> AlertSeen:
    """An alert seen in the example's watched Slack channel."""
    return AlertSeen(
        platform="slack",
        channel="C0ALERTS1",
        text=text,
        event_id=event,
        message=MessageRef("slack", "C0ALERTS1", f"17000000{event}.0001"),
    )


async def eventually(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Wait (bounded) for something the scheduler does on its own timer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("the scheduler did not get there in time")
        await asyncio.sleep(0.02)
