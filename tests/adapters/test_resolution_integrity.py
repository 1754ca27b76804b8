"""Issue 11 item 3: a "[RESOLVED]" post resolves an alert only when it comes from the
integration that posted the firing alert; a workflow, incoming webhook or Flow bot that any
member can create is refused, and both the resolution and the refusal name the integration
in the evidence. Through signed Slack events and authenticated Teams activities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters import teams_standin
from tests.adapters.slack_standin import SlackEnv, load_fixture, slack_env
from tests.adapters.teams_standin import ConnectorStandIn, channel_post, running_bot, team_installed


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


async def _evidence(env: SlackEnv, action: str) -> list[dict[str, object]]:
    return [e.detail for e in await env.audit() if e.action == action]


async def test_a_workflow_saying_resolved_does_not_resolve_another_integrations_alert(
    env: SlackEnv,
) -> None:
    assert (await env.send_event(load_fixture("alertmanager_firing.json"))).status == 200
    await env.settle()
    [alert] = await env.open_alerts()
    assert alert.integration == "slack:B0ALERTMGR"

    forged = load_fixture("alertmanager_resolved.json")
    forged["bot_id"] = "B0WORKFLOW"  # a Workflow Builder step anyone in the channel can make
    assert (await env.send_event(forged)).status == 200
    await env.settle()

    assert [a.id for a in await env.open_alerts()] == [alert.id]
    [refused] = await _evidence(env, "alert.resolve_refused")
    assert refused == {"integration": "slack:B0WORKFLOW", "fired_by": "slack:B0ALERTMGR"}


async def test_the_integration_that_fired_it_resolves_it_on_the_record(env: SlackEnv) -> None:
    await env.send_event(load_fixture("alertmanager_firing.json"))
    await env.settle()

    await env.send_event(load_fixture("alertmanager_resolved.json"))
    await env.settle()

    assert await env.open_alerts() == []
    [resolved] = await _evidence(env, "alert.resolved")
    assert resolved["by"] == "monitor" and resolved["integration"] == "slack:B0ALERTMGR"
    [claimed] = await _evidence(env, "alert.claimed")
    assert claimed["integration"] == "slack:B0ALERTMGR"


async def test_teams_flow_bot_cannot_resolve_a_connectors_alert(tmp_path: Path) -> None:
    standin = ConnectorStandIn()
    await standin.start()
    try:
        async with running_bot(tmp_path, standin=standin) as bot:
            await bot.post(team_installed(standin.service_url, teams_standin.CAROL))
            fired = channel_post(standin.service_url, "[FIRING:1] billing-router HighLatency")
            assert (await bot.post(fired))[0] == 200
            flow = channel_post(
                standin.service_url,
                "[RESOLVED] billing-router HighLatency",
                sender={"id": "28:power-automate-flow", "name": "Flow bot"},
            )
            assert (await bot.post(flow))[0] == 200
            async with bot.runtime.store.transaction() as tx:
                [still] = await tx.alerts.unresolved()
                actions = [e.action for e in await tx.evidence.entries()]
            assert still.integration == "teams:28:grafana-connector"
            assert "alert.resolve_refused" in actions and "alert.resolved" not in actions

            same = channel_post(standin.service_url, "[RESOLVED] billing-router HighLatency")
            assert (await bot.post(same))[0] == 200
            async with bot.runtime.store.transaction() as tx:
                assert await tx.alerts.unresolved() == []
    finally:
        await standin.stop()
