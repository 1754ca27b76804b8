"""Issue 11 item 14: a claim for an alert taken over HTTP goes to its system's channel; when
Slack answers `not_in_channel` (a private channel the bot was never invited to) or
`channel_not_found`, the channel's fallback owner (else the admins) is told, the failure is
recorded, and the claim goes out once the bot can post there."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.adapters.hostile import AUTH, served

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found"])
async def test_a_channel_the_bot_cannot_post_in_is_reported_to_a_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: str
) -> None:
    async with served(tmp_path, monkeypatch) as bot:
        bot.standin.refuse_posts["C0ALERTS1"] = error
        body = (FIXTURES / "generic_firing.json").read_bytes()

        status, text = await bot.post("/alerts", body, headers=AUTH)

        assert status == 200  # stored: the sender must not deliver again
        [taken] = json.loads(text)["alerts"]
        assert taken["posted"] is False
        # Dana is C0ALERTS1's fallback owner: she hears why and what to do
        [told] = bot.standin.posts("D0DANA004")
        assert "I cannot post claims in C0ALERTS1" in json.dumps(told.args)
        assert "/invite @Accountability" in json.dumps(told.args)
        async with bot.runtime.store.transaction() as tx:
            actions = [(e.action, e.detail) for e in await tx.evidence.entries()]
        assert ("claim.channel_unreachable", {"channel": "slack:C0ALERTS1", "told": ["dana"]}) in (
            actions
        )

        # retried by the tick without telling Dana again; posted once the bot is invited
        bot.clock.advance(timedelta(seconds=31))
        await bot.runtime.service.tick()
        assert len(bot.standin.posts("D0DANA004")) == 1
        bot.standin.refuse_posts.clear()
        bot.clock.advance(timedelta(seconds=31))
        await bot.runtime.service.tick()
        [claim] = [c for c in bot.standin.posts("C0ALERTS1") if c.answer and c.answer["ok"]]
        assert "Claimed for" in json.dumps(claim.args)
