"""Asking for the console in chat, end to end through the production app: `/accountability
console` in Slack (signed requests, the Slack stand-in) and `console` to the bot in Teams
(activities, the connector stand-in). The link arrives by direct message, signs in as the
person who asked, once; strangers get no link."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.slack.translate import command_from_payload
from tests.adapters.slack_standin import SlackEnv, slack_env
from tests.adapters.teams_standin import (
    BOB,
    MALLORY,
    ConnectorStandIn,
    card_of,
    card_text,
    personal,
    personal_chat,
    running_bot,
)

LINK = re.compile(r"https?://[^\s\"<>|]+/sign-in/[A-Za-z0-9_-]+")


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


def replies(env: SlackEnv, response_url: str) -> str:
    path = response_url.removeprefix(env.standin.url)
    return json.dumps([c.args for c in env.standin.calls_to("response_url") if c.path == path])


async def test_slack_console_link_by_direct_message(env: SlackEnv) -> None:
    answer, url = await env.command("/accountability", "console", user="U0ALICE01")
    assert (answer.status, answer.text) == (200, "")
    await env.settle()
    assert "Check your direct messages" in replies(env, url)
    [dm] = [c for c in env.standin.calls_to("chat.postMessage") if c.args["channel"] == "D0ALICE01"]
    found = LINK.findall(json.dumps(dm.args))
    assert found and found[0].startswith("http://localhost:")  # PUBLIC_URL unset
    path = "/sign-in/" + found[0].rsplit("/", 1)[1]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        base = str(env.server.make_url(""))
        async with browser.get(base + "/") as page:
            assert page.status == 401  # Slack is configured: the console needs a session
        async with browser.post(base + path) as signed:
            assert signed.status == 200
            assert "Signed in as <strong>Alice Ng</strong>" in await signed.text()
        async with browser.post(base + path) as again:
            assert again.status == 410
    async with env.runtime.store.transaction() as tx:
        actions = [(e.actor, e.action) for e in await tx.evidence.entries()]
    assert ("alice", "console.link_sent") in actions


async def test_slack_stranger_gets_no_link(env: SlackEnv) -> None:
    _, url = await env.command("/accountability", "console", user="U0MALLORY")
    await env.settle()
    assert "No console link" in replies(env, url)
    assert not LINK.findall(json.dumps([c.args for c in env.standin.calls_to("chat.postMessage")]))


async def test_slack_umbrella_words() -> None:
    def parse(text: str) -> tuple[str, str] | None:
        given = command_from_payload(
            {"command": "/accountability", "text": text, "user_id": "U1", "channel_id": "C1"}
        )
        return (given.command, given.args) if given else None

    assert parse("console") == ("console", "")
    assert parse("CONSOLE  ") == ("console", "")
    assert parse("who-owns billing-router") == ("who-owns", "billing-router")
    assert parse("") == ("help", "")
    assert parse("dance") == ("help", "")


@pytest.fixture
async def standin() -> AsyncIterator[ConnectorStandIn]:
    connector = ConnectorStandIn()
    await connector.start()
    yield connector
    await connector.stop()


async def test_teams_console_link_by_direct_message(
    tmp_path: Path, standin: ConnectorStandIn
) -> None:
    async with running_bot(tmp_path, standin=standin) as bot:
        status, _ = await bot.post(personal(standin.service_url, BOB, "console"))
        assert status == 200
        await standin.wait_for(lambda: len(standin.messages(personal_chat(BOB))) >= 2)
        shown = "\n".join(
            card_text(card_of(m)) + json.dumps(card_of(m))
            for m in standin.messages(personal_chat(BOB))
        )
        assert "Check your direct messages" in shown
        [link] = set(LINK.findall(shown))
        base = bot.url.removesuffix("/api/messages")
        jar = aiohttp.CookieJar(unsafe=True)
        path = "/sign-in/" + link.rsplit("/", 1)[1]
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as browser,
            browser.post(base + path) as signed,
        ):
            assert signed.status == 200
            assert "Signed in as <strong>Bob Ruiz</strong>" in await signed.text()

        status, _ = await bot.post(personal(standin.service_url, MALLORY, "console"))
        await standin.wait_for(lambda: standin.messages(personal_chat(MALLORY)))
        refused = "\n".join(card_text(card_of(m)) for m in standin.messages(personal_chat(MALLORY)))
        assert "No console link" in refused and not LINK.findall(refused)
