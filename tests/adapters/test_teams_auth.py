"""Who may talk to /api/messages. With TEAMS_APP_ID set, only requests carrying a Bot Framework
JWT: signed by a key the OpenID metadata publishes (served here by the stand-in, so nothing
leaves the machine), issued for this app and for the activity's serviceUrl. Without an app id,
anonymous activities from this machine only, and a loud warning."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.teams_standin import (
    APP_ID,
    BOB,
    CAROL,
    TEAM,
    ConnectorStandIn,
    RunningBot,
    SigningKey,
    channel_post,
    personal,
    running_bot,
    team_installed,
)

# One "Bot Framework" key for the whole run: botbuilder caches metadata per URL for a day.
GENUINE = SigningKey.generate("bf-signing-key-1")


@pytest.fixture
async def standin() -> AsyncIterator[ConnectorStandIn]:
    connector = ConnectorStandIn(keys=[GENUINE.jwk()])
    await connector.start()
    yield connector
    await connector.stop()


@pytest.fixture
async def secured(tmp_path: Path, standin: ConnectorStandIn) -> AsyncIterator[RunningBot]:
    async with running_bot(tmp_path, app_id=APP_ID, metadata_url=standin.metadata_url) as bot:
        yield bot


async def nothing_happened(bot: RunningBot, standin: ConnectorStandIn) -> None:
    async with bot.runtime.store.transaction() as tx:
        assert await tx.alerts.unresolved() == []
        assert await tx.evidence.entries() == []
    async with bot.runtime.store.transaction() as tx:
        assert await tx.conversations.get(conversation_id=TEAM) is None
    assert standin.calls == []


async def test_a_request_without_a_token_is_refused(
    secured: RunningBot, standin: ConnectorStandIn
) -> None:
    alert = channel_post(standin.service_url, "billing-router: error rate 12% above threshold")

    status, body = await secured.post(alert)

    assert status == 401
    assert body == {"error": "missing Bot Framework token"}
    await nothing_happened(secured, standin)


async def test_a_forged_token_is_refused(secured: RunningBot, standin: ConnectorStandIn) -> None:
    # Every claim right, the published key id, but signed with the forger's own RSA key.
    forger = SigningKey.generate(GENUINE.kid)
    alert = channel_post(standin.service_url, "billing-router: error rate 12% above threshold")

    status, _ = await secured.post(alert, token=forger.token(service_url=standin.service_url))

    assert status == 401
    assert standin.metadata_hits >= 1  # the signature really was checked against the keys
    await nothing_happened(secured, standin)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda url: "not-a-jwt", id="garbage"),
        pytest.param(lambda url: GENUINE.token(service_url=url, audience="0000"), id="other-app"),
        pytest.param(lambda url: GENUINE.token(service_url="https://evil.test/"), id="serviceurl"),
        pytest.param(
            lambda url: GENUINE.token(service_url=url, exp=int(time.time()) - 3600), id="expired"
        ),
        pytest.param(
            lambda url: GENUINE.token(service_url=url, iss="https://evil.test"), id="issuer"
        ),
        pytest.param(
            lambda url: SigningKey.generate("unpublished").token(service_url=url), id="unknown-key"
        ),
    ],
)
async def test_invalid_tokens_are_refused(
    secured: RunningBot, standin: ConnectorStandIn, token: object
) -> None:
    make = token  # a function of the service URL
    status, _ = await secured.post(
        team_installed(standin.service_url, CAROL),
        token=make(standin.service_url),  # type: ignore[operator]
    )

    assert status == 401
    await nothing_happened(secured, standin)


async def test_a_genuine_token_is_accepted(secured: RunningBot, standin: ConnectorStandIn) -> None:
    status, _ = await secured.post(
        team_installed(standin.service_url, CAROL),
        token=GENUINE.token(service_url=standin.service_url),
    )

    assert status == 200
    async with secured.runtime.store.transaction() as tx:
        team = await tx.conversations.get(conversation_id=TEAM)
    assert team is not None and team.service_url == standin.service_url


async def test_without_an_app_id_only_this_machine_may_post(
    tmp_path: Path, standin: ConnectorStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.teams.bot"):
        async with running_bot(tmp_path, dev_anonymous=True) as bot:
            proxied, _ = await bot.post(
                personal(standin.service_url, BOB, "help"),
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
            assert proxied == 401
            assert standin.calls == []
            local, _ = await bot.post(personal(standin.service_url, BOB, "help"))
            assert local == 200
            assert len(standin.messages()) == 1

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("TEAMS_DEV_ANONYMOUS=1" in w and "UNAUTHENTICATED" in w for w in warnings)


async def test_no_warning_when_an_app_id_is_set(
    tmp_path: Path, standin: ConnectorStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.teams.bot"):
        async with running_bot(tmp_path, app_id=APP_ID, metadata_url=standin.metadata_url):
            pass

    assert not any("UNAUTHENTICATED" in r.getMessage() for r in caplog.records)
