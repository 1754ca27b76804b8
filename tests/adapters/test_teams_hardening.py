"""Issue 11 items 1 and 4 (Teams): the endpoint exists only when configured, development mode
never identifies anyone, tokens are checked before the body is read, serviceUrls and tenants
are pinned, and malformed activities are a 4xx. Plus the Hypothesis fuzz of /api/messages."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import cards
from bot.domain import UserRef
from bot.evidence import verify_chain
from tests.adapters.hostile import InThread, served
from tests.adapters.teams_standin import (
    ALERTS,
    ALICE,
    BOB,
    CAROL,
    TEST_KEY,
    ConnectorStandIn,
    Person,
    RunningBot,
    card_click,
    card_of,
    channel_post,
    personal,
    personal_chat,
    running_bot,
    team_installed,
)
from tests.adapters.test_fuzz_http import JSON, mutated
from tests.adapters.test_teams_wire import alert_claimed, claim_click

FOREIGN = "f0f0f0f0-0000-4000-8000-00000000ffff"


@pytest.fixture
async def standin() -> AsyncIterator[ConnectorStandIn]:
    connector = ConnectorStandIn()
    await connector.start()
    yield connector
    await connector.stop()


@pytest.fixture
async def bot(tmp_path: Path, standin: ConnectorStandIn) -> AsyncIterator[RunningBot]:
    async with running_bot(tmp_path, standin=standin) as running:
        assert (await running.post(team_installed(standin.service_url, CAROL)))[0] == 200
        yield running


async def audit(bot: RunningBot) -> list[str]:
    async with bot.runtime.store.transaction() as tx:
        entries = await tx.evidence.entries()
    assert verify_chain(entries) is None
    return [e.action for e in entries]


async def healthy(bot: RunningBot) -> None:
    url = bot.url.replace("/api/messages", "/healthz")
    async with asyncio.timeout(5), bot.http.get(url) as resp:
        assert resp.status == 200
    await audit(bot)


# ---- item 1: mounted only when configured; development mode identifies nobody ---------------


async def test_teams_is_not_mounted_in_a_slack_only_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin: ConnectorStandIn
) -> None:
    async with served(tmp_path, monkeypatch) as bot:
        # the attack of the issue: an anonymous "stop" from this machine, as the holder
        activity = personal(standin.service_url, CAROL, "stop billing-router")
        status, _ = await bot.post(
            "/api/messages",
            json.dumps(activity).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status == 404
        assert "teams" not in bot.runtime.platforms
    assert standin.calls == []


async def test_without_app_id_or_dev_flag_there_is_no_endpoint(
    tmp_path: Path, standin: ConnectorStandIn
) -> None:
    async with running_bot(tmp_path) as bot:
        status, _ = await bot.post(team_installed(standin.service_url, CAROL))
        assert status == 404
        assert bot.runtime.teams is None
    assert standin.calls == []


async def test_dev_mode_never_grants_stop_authority(
    tmp_path: Path, standin: ConnectorStandIn
) -> None:
    async with running_bot(tmp_path, dev_anonymous=True) as bot:
        await bot.post(team_installed(standin.service_url, CAROL))
        # the body claims to be Carol (the holder, by her registry AAD id)
        status, _ = await bot.post(personal(standin.service_url, CAROL, "stop billing-router"))
        assert status == 200
        shown = json.dumps([card_of(m) for m in standin.messages(personal_chat(CAROL))])
        assert "Refused" in shown and cards.STOP_CONFIRM not in shown
        assert not (tmp_path / "stopped.flag").exists()
        # nobody asked the connector who this is: an unauthenticated body proves nothing
        assert standin.of("member") == []
        assert "stop.requested" not in await audit(bot)


async def test_dev_mode_never_acknowledges(tmp_path: Path, standin: ConnectorStandIn) -> None:
    async with running_bot(tmp_path, dev_anonymous=True) as bot:
        await bot.post(team_installed(standin.service_url, CAROL))
        post, claim = await alert_claimed(bot, standin)
        async with bot.runtime.store.transaction() as tx:
            [alert] = await tx.alerts.unresolved()
        # Alice, the operator, by her AAD id: in development mode the body proves nothing
        status, _ = await bot.post(claim_click(standin, post, claim, ALICE, cards.ACK, alert.id))
        assert status == 200
        async with bot.runtime.store.transaction() as tx:
            [still] = await tx.alerts.unresolved()
        assert still.state == "open"
        assert "alert.acknowledged" not in await audit(bot)


async def test_dev_mode_refuses_a_service_url_off_this_machine(
    tmp_path: Path, standin: ConnectorStandIn
) -> None:
    async with running_bot(tmp_path, dev_anonymous=True) as bot:
        status, _ = await bot.post(personal("https://attacker.example/", BOB, "who-owns x"))
        assert status == 403
        async with bot.runtime.store.transaction() as tx:
            assert await tx.conversations.get(conversation_id=personal_chat(BOB)) is None


# ---- item 1: tenants pinned, emails trusted only from pinned tenants ------------------------


async def test_a_foreign_tenant_is_refused(bot: RunningBot, standin: ConnectorStandIn) -> None:
    activity = personal(standin.service_url, CAROL, "stop billing-router")
    activity["conversation"]["tenantId"] = FOREIGN
    activity["channelData"]["tenant"]["id"] = FOREIGN

    status, _ = await bot.post(activity)

    assert status == 403
    assert standin.messages(personal_chat(CAROL)) == []
    assert not (bot.folder / "stopped.flag").exists()


async def test_a_guest_of_another_tenant_with_the_holders_email_is_not_the_holder(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    # Bob is identified by email (no Teams id in the registry). An account whose email
    # matches his, but whose home tenant is foreign, must not act as him.
    impostor = Person(
        "bob2", "Bob Ruiz", BOB.email, "0bad0bad-0000-4000-8000-000000000b0b", "29:1impostor"
    )
    member = impostor.member

    def foreign() -> dict[str, str]:
        return {**member(), "tenantId": FOREIGN}

    object.__setattr__(impostor, "member", foreign)
    standin.members[impostor.aad] = impostor
    standin.members[impostor.id] = impostor

    status, _ = await bot.post(personal(standin.service_url, impostor, "who-owns billing-router"))
    assert status == 200
    person = await bot.runtime.service.people.person(UserRef("teams", impostor.aad))
    assert person is None
    # the real Bob, of the pinned tenant, is still Bob
    await bot.post(personal(standin.service_url, BOB, "who-owns billing-router"))
    real = await bot.runtime.service.people.person(UserRef("teams", BOB.aad))
    assert real == "bob"


async def test_teams_app_id_without_a_pinned_tenant_stops_start_up(
    tmp_path: Path, standin: ConnectorStandIn
) -> None:
    with pytest.raises(ValueError, match="no tenant is pinned"):
        async with running_bot(tmp_path, standin=standin, tenant=None):
            pass


# ---- item 4: authenticate before parsing; bounds; 4xx for malformed -------------------------


async def test_a_bad_token_is_refused_before_the_body_is_parsed(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    # 0.9 MB that is not even JSON: before the fix it was parsed (1.5 s) and answered 400
    junk = b"{" + b'"a":[' * 10 + b" " * 900_000
    started = time.perf_counter()
    status, _ = await bot.post(junk, token="x")
    assert status == 401
    assert time.perf_counter() - started < 1.0
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    assert (await bot.post(deep, token="x"))[0] == 401


async def test_an_emulator_token_is_refused(bot: RunningBot, standin: ConnectorStandIn) -> None:
    emulator = TEST_KEY.token(
        service_url=standin.service_url,
        iss="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
        ver="1.0",
        appid="6c4e6bd3-1111-4222-8333-444455556666",
    )
    status, _ = await bot.post(team_installed(standin.service_url, BOB), token=emulator)
    assert status == 401


@pytest.mark.parametrize("depth", [40, 1000, 100_000])
async def test_signed_deeply_nested_activity_is_400(bot: RunningBot, depth: int) -> None:
    body = b'{"type": "message", "x": ' + b"[" * depth + b"]" * depth + b"}"
    status, _ = await bot.post(body)
    assert status == 400
    await healthy(bot)


async def test_signed_oversized_activity_is_413(bot: RunningBot, standin: ConnectorStandIn) -> None:
    activity = channel_post(standin.service_url, "billing-router " + "x" * 600_000)
    status, _ = await bot.post(activity)
    assert status == 413
    await healthy(bot)


async def test_signed_activity_with_nul_and_lone_surrogates_is_taken(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    activity = channel_post(standin.service_url, "billing-router: drift \ud83d and \x00 NUL")
    root = activity["id"]
    activity["id"] = root + "\udc00"
    activity["conversation"]["id"] = activity["conversation"]["id"].replace(root, activity["id"])
    token = TEST_KEY.token(service_url=standin.service_url)
    status, _ = await bot.post(json.dumps(activity).encode(), token=token)
    assert status == 200
    async with bot.runtime.store.transaction() as tx:
        [alert] = await tx.alerts.unresolved()
    assert "\x00" not in alert.title
    await healthy(bot)


# ---- the fuzz: validly signed activities ----------------------------------------------------


def _templates(service_url: str) -> list[dict[str, Any]]:
    return [
        channel_post(service_url, "billing-router: error rate 12% above threshold"),
        channel_post(
            service_url, "who-owns billing-router", sender=BOB.account(), mention_bot=True
        ),
        personal(service_url, CAROL, "stop billing-router"),
        personal(service_url, BOB, "who-owns billing-router"),
        card_click(
            service_url,
            CAROL,
            verb=cards.ACK,
            value="1",
            card_id="1",
            conversation=f"{ALERTS};messageid=1",
        ),
        team_installed(service_url, CAROL),
    ]


def test_fuzz_teams_activities(tmp_path: Path) -> None:
    """Signed activities mutated at any depth: no 5xx, an answer within 10 s, and a healthy
    server afterwards."""
    loop_owner = InThread()
    holder: dict[str, Any] = {}

    async def start() -> None:
        connector = ConnectorStandIn()
        await connector.start()
        context = running_bot(tmp_path, standin=connector)
        holder.update(connector=connector, context=context, bot=await context.__aenter__())

    async def stop() -> None:
        await holder["context"].__aexit__(None, None, None)
        await holder["connector"].stop()

    loop_owner.run(start())
    bot: RunningBot = holder["bot"]
    templates = _templates(holder["connector"].service_url)
    try:

        @settings(
            max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(
            activity=st.one_of(st.sampled_from(templates).flatmap(mutated), JSON),
        )
        def post(activity: Any) -> None:
            url = activity.get("serviceUrl") if isinstance(activity, dict) else None
            token = TEST_KEY.token(service_url=url if isinstance(url, str) else "")
            status, _ = loop_owner.run(bot.post(json.dumps(activity), token=token), timeout=10)
            assert status < 500, activity

        post()
        loop_owner.run(bot.runtime.background.drain(within=30))
        loop_owner.run(healthy(bot))
    finally:
        loop_owner.run(stop())
        loop_owner.close()
