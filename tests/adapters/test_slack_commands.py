"""Slash commands through Slack: /who-owns, /stop (confirm / cancel), /resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.actions import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot import cards
from tests.adapters.slack_standin import ALERTS, STOP_SECRET, Call, SlackEnv, slack_env


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


def answered(env: SlackEnv, response_url: str) -> list[Call]:
    path = response_url.removeprefix(env.standin.url)
    return [c for c in env.standin.calls_to("response_url") if c.path == path]


def shown(args: dict[str, Any]) -> str:
    return args.get("text", "") + "\n" + json.dumps(args.get("blocks", []))


def buttons(args: dict[str, Any]) -> dict[str, str]:
    return {
        e["action_id"]: e.get("value", "")
        for b in args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


async def test_who_owns_a_system(env: SlackEnv) -> None:
    answer, url = await env.command("/who-owns", "billing-router", user="U0MALLORY")
    assert (answer.status, answer.text) == (200, "")  # acknowledged at once
    await env.settle()
    [reply] = answered(env, url)
    assert reply.args["response_type"] == "ephemeral"
    text = shown(reply.args)
    assert "Who owns billing-router (Billing ticket router)" in text
    for user in ("U0ALICE01", "U0BOB0002", "U0CAROL03"):  # carol found by email
        assert f"<@{user}>" in text
    assert (
        "Escalation map: Bob Ruiz (maintainer) after 10m, then Carol Diaz (steward) after 30m"
        in text
    )


async def test_who_owns_an_unknown_system_lists_close_matches(env: SlackEnv) -> None:
    _, url = await env.command("/who-owns", "billing-ruoter", user="U0BOB0002")
    # a system id containing "payload" must not confuse the body parser
    _, odd = await env.command("/who-owns", "payload-router", user="U0BOB0002")
    await env.settle()
    [reply] = answered(env, url)
    assert "No system called 'billing-ruoter'" in shown(reply.args)
    assert "Did you mean: billing-router?" in shown(reply.args)
    [other] = answered(env, odd)
    assert "No system called 'payload-router'" in shown(other.args)


async def test_who_owns_alone_lists_the_systems_of_this_channel(env: SlackEnv) -> None:
    _, here = await env.command("/who-owns", "", user="U0BOB0002", channel=ALERTS)
    _, elsewhere = await env.command("/who-owns", "", user="U0BOB0002", channel="C0RANDOM9")
    await env.settle()
    [reply] = answered(env, here)
    text = shown(reply.args)
    assert "Systems of this channel" in text
    for system in ("billing-router", "support-drafter", "risk-scorer"):
        assert system in text
    [other] = answered(env, elsewhere)
    assert "No system lists this channel" in shown(other.args)


async def request_stop(env: SlackEnv, *, user: str, text: str) -> dict[str, Any]:
    answer, url = await env.command("/stop", text, user=user)
    assert answer.status == 200
    await env.settle()
    [reply] = answered(env, url)
    return reply.args


async def test_stop_by_the_holder_runs_the_signed_webhook_and_posts_the_result(
    env: SlackEnv,
) -> None:
    confirm = await request_stop(env, user="U0CAROL03", text="billing-router scores drifted")
    assert "Confirm: stop billing-router?" in shown(confirm)
    ids = buttons(confirm)
    assert set(ids) == {cards.STOP_CONFIRM, cards.STOP_CANCEL}
    assert env.standin.calls_to("webhook") == []  # nothing runs before the confirmation

    env.standin.webhook_gate = asyncio.Event()  # the stop action is slow
    answer, url = await env.click(
        user="U0CAROL03",
        action_id=cards.STOP_CONFIRM,
        value=ids[cards.STOP_CONFIRM],
        ephemeral=True,
    )
    assert answer.status == 200  # Slack had its answer while the action was still running
    assert answered(env, url) == []
    env.standin.webhook_gate.set()
    await env.settle()

    [hook] = env.standin.calls_to("webhook")
    assert hook.path == "/hooks/billing-router/stop"
    assert hook.headers[SIGNATURE_HEADER] == sign(STOP_SECRET, hook.raw)
    assert json.loads(hook.raw)["sent_at"] == int(hook.headers[TIMESTAMP_HEADER])
    assert hook.args["system"] == "billing-router"
    assert hook.args["action"] == "stop"
    assert hook.args["requested_by"] == "carol"
    assert hook.args["reason"] == "scores drifted"

    [result] = env.standin.posts(ALERTS)  # the system's channel hears the outcome
    assert "billing-router was stopped by <@U0CAROL03>" in shown(result.args)
    [replaced] = answered(env, url)
    assert replaced.args["replace_original"] is True
    assert "billing-router stopped" in shown(replaced.args)

    _, status = await env.command("/who-owns", "billing-router", user="U0BOB0002")
    await env.settle()
    assert "STOPPED" in shown(answered(env, status)[0].args)
    actions = [e.action for e in await env.audit()]
    assert actions == ["stop.requested", "stop.succeeded"]


async def test_a_failing_stop_action_is_reported_to_the_channel(env: SlackEnv) -> None:
    env.standin.webhook_status = 500
    confirm = await request_stop(env, user="U0CAROL03", text="billing-router")
    await env.click(
        user="U0CAROL03",
        action_id=cards.STOP_CONFIRM,
        value=buttons(confirm)[cards.STOP_CONFIRM],
        ephemeral=True,
    )
    await env.settle()
    [result] = env.standin.posts(ALERTS)
    assert "Stop of billing-router FAILED" in shown(result.args)
    assert "webhook answered 500" in shown(result.args)
    assert [e.action for e in await env.audit()][-1] == "stop.failed"


async def test_stop_cancelled_runs_nothing(env: SlackEnv) -> None:
    confirm = await request_stop(env, user="U0CAROL03", text="billing-router")
    _, url = await env.click(
        user="U0CAROL03",
        action_id=cards.STOP_CANCEL,
        value=buttons(confirm)[cards.STOP_CANCEL],
        ephemeral=True,
    )
    await env.settle()
    assert env.standin.calls_to("webhook") == []
    [replaced] = answered(env, url)
    assert replaced.args["replace_original"] is True
    assert "Cancelled: stop billing-router" in shown(replaced.args)


async def test_stop_by_someone_else_is_refused_and_the_holder_is_told(env: SlackEnv) -> None:
    refused = await request_stop(env, user="U0BOB0002", text="billing-router it is on fire")
    assert "Refused: you do not hold stop authority for billing-router" in shown(refused)
    assert "Only <@U0CAROL03> may stop billing-router" in shown(refused)

    [opened] = env.standin.calls_to("conversations.open")
    assert opened.args["users"] == "U0CAROL03"
    [told] = env.standin.posts("D0CAROL03")
    assert "Someone asked to stop billing-router" in shown(told.args)
    assert "<@U0BOB0002> asked to stop billing-router" in shown(told.args)
    assert env.standin.calls_to("webhook") == []
    [entry] = await env.audit()
    assert (entry.action, entry.actor, entry.detail["holder"]) == ("stop.refused", "bob", "carol")


async def test_a_confirmation_clicked_by_someone_else_runs_nothing(env: SlackEnv) -> None:
    confirm = await request_stop(env, user="U0CAROL03", text="billing-router")
    _, url = await env.click(
        user="U0BOB0002",
        action_id=cards.STOP_CONFIRM,
        value=buttons(confirm)[cards.STOP_CONFIRM],
        ephemeral=True,
    )
    await env.settle()
    assert env.standin.calls_to("webhook") == []
    [reply] = answered(env, url)
    assert "Only the stop-authority holder may confirm this" in shown(reply.args)


async def test_resume_by_the_holder(env: SlackEnv) -> None:
    _, url = await env.command("/resume", "billing-router", user="U0CAROL03")
    await env.settle()
    confirm = answered(env, url)[0].args
    await env.click(
        user="U0CAROL03",
        action_id=cards.STOP_CONFIRM,
        value=buttons(confirm)[cards.STOP_CONFIRM],
        ephemeral=True,
    )
    await env.settle()
    [hook] = env.standin.calls_to("webhook")
    assert hook.path == "/hooks/billing-router/resume"
    [result] = env.standin.posts(ALERTS)
    assert "billing-router was resumed by <@U0CAROL03>" in shown(result.args)


async def test_unknown_commands_get_the_help(env: SlackEnv) -> None:
    _, url = await env.command("/accountability", "", user="U0BOB0002")
    _, prefixed = await env.command("/ab-who-owns", "support-drafter", user="U0BOB0002")
    await env.settle()
    assert "who-owns &lt;system&gt;" in shown(answered(env, url)[0].args)  # mrkdwn-escaped
    assert "Who owns support-drafter" in shown(answered(env, prefixed)[0].args)
