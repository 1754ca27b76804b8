"""Issue 11 item 12: a claim is never posted twice by the same process. A post slower than
its 30 s posting lease (a channel's queue, a long Retry-After) used to be posted again by the
process's own tick once the lease lapsed ("claimed twice" warnings, 59 posts for 45 alerts)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.adapters.hostile import AUTH, served

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"


async def test_the_tick_does_not_post_a_claim_this_process_is_still_posting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with served(tmp_path, monkeypatch) as bot:
        bot.standin.api_gate = asyncio.Event()  # Slack hangs: the claim post is in flight
        delivery = asyncio.create_task(
            bot.post("/alerts", (FIXTURES / "generic_firing.json").read_bytes(), headers=AUTH)
        )
        for _ in range(500):  # stored, and its claim on the way to Slack
            if await bot.open_alerts():
                break
            await asyncio.sleep(0.01)
        bot.clock.advance(timedelta(seconds=31))  # the posting lease lapses mid-post
        tick = asyncio.create_task(bot.runtime.service.tick())
        await asyncio.sleep(0.2)
        bot.standin.api_gate.set()
        status, text = await delivery
        await tick
        await bot.settle()

        assert status == 200 and json.loads(text)["alerts"][0]["posted"] is True
        posted = [
            c for c in bot.standin.calls_to("chat.postMessage") if c.args["channel"] == "C0ALERTS1"
        ]
        assert len(posted) == 1
