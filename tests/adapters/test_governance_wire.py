"""The governance cadence at the wire: the steward's digest as Slack and Teams receive it (a
direct message with the scorecard, the four decisions and a reason box), decisions clicked
in signed Slack requests and Bot Framework activities, refusals, pause handed to the stop
flow, and `who-decides` as a slash command and a Teams text command."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import cards
from bot.scorecard_views import DECIDE
from tests.adapters.slack_standin import Call, SlackEnv, slack_env
from tests.adapters.teams_standin import (
    BOB,
    CAROL,
    ConnectorStandIn,
    RunningBot,
    card_click,
    card_of,
    card_text,
    personal,
    personal_chat,
    running_bot,
    team_installed,
    verbs,
)

PERIOD = "2026-11-02T08:00:00+00:00"
CAROL_DM = "D0CAROL03"


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


def answered(env: SlackEnv, response_url: str) -> list[Call]:
    path = response_url.removeprefix(env.standin.url)
    return [c for c in env.standin.calls_to("response_url") if c.path == path]


def told(env: SlackEnv, user: str) -> list[dict[str, Any]]:
    """What the clicker was shown privately in the direct message (chat.postEphemeral)."""
    return [c.args for c in env.standin.calls_to("chat.postEphemeral") if c.args["user"] == user]


def shown(args: dict[str, Any]) -> str:
    return args.get("text", "") + "\n" + json.dumps(args.get("blocks", []))


def reason(text: str) -> dict[str, Any]:
    """`state.values` of the digest's reason box as Slack sends it with a click."""
    return {"text_field": {"text_field": {"type": "plain_text_input", "value": text}}}


async def actions(env: SlackEnv) -> list[tuple[str, str | None, dict[str, Any]]]:
    return [(e.action, e.actor, e.detail) for e in await env.audit()]


# ---- Slack ------------------------------------------------------------------------------------


async def test_slack_steward_gets_one_dm_with_scorecards_decisions_and_a_reason_box(
    env: SlackEnv,
) -> None:
    report = await env.runtime.service.governance(period=PERIOD)

    assert report.delivered == {"carol": "slack"}
    [opened] = env.standin.calls_to("conversations.open")
    assert opened.args["users"] == "U0CAROL03"
    [dm] = env.standin.posts(CAROL_DM)
    blocks = dm.args["blocks"]
    text = shown(dm.args)
    assert "Weekly governance: your systems" in text
    for system in ("billing-router", "support-drafter", "risk-scorer"):
        assert f"{system} (" in text
    [box] = [b for b in blocks if b["type"] == "input"]
    assert box["optional"] is True and box["block_id"] == "text_field"
    assert box["element"] == {
        "type": "plain_text_input",
        "action_id": "text_field",
        "max_length": 200,
        "placeholder": {
            "type": "plain_text",
            "text": "Why: goes on the record with your decision",
            "emoji": True,
        },
    }
    values = [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert values[:4] == [f"{d}:billing-router" for d in ("continue", "stabilize", "pause", "stop")]
    assert len(values) == 12
    assert blocks.index(box) < min(i for i, b in enumerate(blocks) if b["type"] == "actions")
    assert [a for a, _, _ in await actions(env)] == ["governance.digest_sent"]
    assert not (await env.runtime.service.governance(period=PERIOD)).ran
    assert len(env.standin.posts(CAROL_DM)) == 1


async def test_slack_decision_by_the_steward_with_a_reason_and_refusal_of_others(
    env: SlackEnv,
) -> None:
    await env.runtime.service.governance(period=PERIOD)
    [dm] = env.standin.posts(CAROL_DM)
    message = env.standin.message(CAROL_DM, str(dm.answer["ts"]))

    answer, _ = await env.click(
        user="U0MALLORY",
        action_id=DECIDE,
        value="stop:risk-scorer",
        channel=CAROL_DM,
        message=message,
    )
    assert answer.status == 200
    await env.settle()
    [refusal] = told(env, "U0MALLORY")
    assert "Not yours to decide: risk-scorer" in shown(refusal)
    assert "Carol Diaz (steward)" in shown(refusal)

    answer, _ = await env.click(
        user="U0CAROL03",
        action_id=DECIDE,
        value="continue:risk-scorer",
        channel=CAROL_DM,
        message=message,
        state=reason(text="numbers steady; <@U0BOB0002> agrees"),
    )
    assert answer.status == 200
    await env.settle()
    [said] = told(env, "U0CAROL03")
    assert "Decision recorded: continue as planned for risk-scorer" in shown(said)
    recorded = [(a, actor, d) for a, actor, d in await actions(env) if a.startswith("governance.")]
    assert [(a, actor) for a, actor, _ in recorded] == [
        ("governance.digest_sent", "accountability-bot"),
        ("governance.refused", "slack:U0MALLORY"),
        ("governance.decided", "carol"),
    ]
    decided = recorded[-1][2]
    assert decided["decision"] == "continue"
    assert decided["reason"] == "numbers steady; <@U0BOB0002> agrees"
    assert decided["user"] == "U0CAROL03"


async def test_slack_pause_goes_on_to_the_stop_confirmation_and_the_stop_action(
    env: SlackEnv,
) -> None:
    await env.runtime.service.governance(period=PERIOD)
    [dm] = env.standin.posts(CAROL_DM)
    message = env.standin.message(CAROL_DM, str(dm.answer["ts"]))

    await env.click(
        user="U0CAROL03",
        action_id=DECIDE,
        value="pause:billing-router",
        channel=CAROL_DM,
        message=message,
        state=reason("urgent tickets scored low"),
    )
    await env.settle()
    [confirm] = told(env, "U0CAROL03")
    assert "Confirm: stop billing-router?" in shown(confirm)
    assert "Decision recorded: pause for risk remediation" in shown(confirm)
    request_id = {
        e["action_id"]: e.get("value")
        for b in confirm["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }[cards.STOP_CONFIRM]

    await env.click(
        user="U0CAROL03", action_id=cards.STOP_CONFIRM, value=request_id, channel=CAROL_DM
    )
    await env.settle()
    [hook] = env.standin.calls_to("webhook")
    assert hook.path == "/hooks/billing-router/stop"
    assert hook.args["reason"] == "governance decision: pause: urgent tickets scored low"
    assert hook.args["requested_by"] == "carol"
    flow = [a for a, _, _ in await actions(env)]
    assert flow == [
        "governance.digest_sent",
        "governance.decided",
        "stop.requested",
        "stop.succeeded",
    ]


async def test_slack_who_decides_slash_command(env: SlackEnv) -> None:
    answer, url = await env.command("/who-decides", "billing-router", user="U0ALICE01")

    assert answer.status == 200
    await env.settle()
    [said] = answered(env, url)
    text = shown(said.args)
    assert "Who decides on billing-router" in text
    assert "Weekly decision: Carol Diaz (steward); after 48 h without a decision: Dana Wu." in text
    assert "Undecided categories (nobody named): model_change" in text


# ---- Teams ------------------------------------------------------------------------------------


@pytest.fixture
async def standin() -> AsyncIterator[ConnectorStandIn]:
    connector = ConnectorStandIn()
    await connector.start()
    yield connector
    await connector.stop()


@pytest.fixture
async def bot(tmp_path: Path, standin: ConnectorStandIn) -> AsyncIterator[RunningBot]:
    async with running_bot(tmp_path, standin=standin) as running:
        status, _ = await running.post(team_installed(standin.service_url, CAROL))
        assert status == 200
        yield running


def invoke_words(answer: dict[str, Any]) -> str:
    """What an invoke's answer shows: a message's text, or a card's words."""
    value = answer["value"]
    return value if isinstance(value, str) else card_text(value)


def decision_click(
    standin: ConnectorStandIn, person: Any, value: str, card_id: str, *, typed: str | None = None
) -> dict[str, Any]:
    """Teams merges the card's inputs into the Action.Execute data."""
    activity = card_click(
        standin.service_url,
        person,
        verb=DECIDE,
        value=value,
        card_id=card_id,
        conversation=personal_chat(person),
        conversation_type="personal",
    )
    if typed is not None:
        activity["value"]["action"]["data"]["text_field"] = typed
    return activity


async def test_teams_steward_gets_the_digest_and_decides_with_a_reason(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    report = await bot.runtime.service.governance(period=PERIOD)

    assert report.delivered == {"carol": "teams"}
    [chat] = standin.personal_chats_with(CAROL)
    [digest] = standin.messages(chat)
    card = card_of(digest)
    assert "Weekly governance: your systems' scorecard" in card_text(card)
    assert "billing-router (Billing ticket router)" in card_text(card)
    assert verbs(card) == [DECIDE] * 4
    assert [a["data"]["value"] for a in card["actions"]] == [
        f"{d}:billing-router" for d in ("continue", "stabilize", "pause", "stop")
    ]
    [box] = [b for b in card["body"] if b["type"] == "Input.Text"]
    assert box["id"] == "text_field" and box["maxLength"] == 200 and not box["isMultiline"]

    status, answer = await bot.post(
        decision_click(standin, BOB, "stop:billing-router", str(digest.answer_id))
    )
    assert status == 200
    assert "Not yours to decide: billing-router" in invoke_words(answer)

    status, answer = await bot.post(
        decision_click(
            standin,
            CAROL,
            "stabilize:billing-router",
            str(digest.answer_id),
            typed="hold the rollout\nuntil the drift fix",
        )
    )
    assert status == 200
    assert "Decision recorded: stabilize before scaling for billing-router (hold the rollout)" in (
        invoke_words(answer)
    )
    async with bot.runtime.store.transaction() as tx:
        found = [(e.action, e.actor, e.detail) for e in await tx.evidence.entries()]
    decided = [(actor, d) for a, actor, d in found if a == "governance.decided"]
    assert decided == [
        (
            "carol",
            {
                "decision": "stabilize",
                "reason": "hold the rollout",
                "digest_sent_at": "2026-11-02T09:00:00Z",
                "steward": "carol",
                "user": CAROL.aad,
            },
        )
    ]
    assert [a for a, _, _ in found if a == "governance.refused"] == ["governance.refused"]


async def test_teams_who_decides_text_command(bot: RunningBot, standin: ConnectorStandIn) -> None:
    for words in ("who-decides billing-router", "who decides billing-router incident_response"):
        status, _ = await bot.post(personal(standin.service_url, BOB, words))
        assert status == 200
    first, second = standin.messages(personal_chat(BOB))
    assert "Who decides on billing-router" in card_text(card_of(first))
    assert "Weekly decision: Carol Diaz (steward)" in card_text(card_of(first))
    assert "incident_response: nobody is named in the registry." in card_text(card_of(second))
