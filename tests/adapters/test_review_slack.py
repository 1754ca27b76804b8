"""The resolve form and the review through Slack, wire to wire: Resolve opens a modal
(views.open with the click's trigger_id), its submission and its Skip come back through Bolt
signed as Slack signs them, and /review answers through the response_url."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot import cards
from tests.adapters.slack_standin import ALERTS, TEAM, Answer, SlackEnv, load_fixture, slack_env


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEnv]:
    async with slack_env(tmp_path, monkeypatch) as running:
        yield running


async def resolve(env: SlackEnv, *, user: str = "U0ALICE01") -> int:
    assert (await env.send_event(load_fixture("alertmanager_firing.json"))).status == 200
    await env.settle()
    claim_ts = str(env.standin.posts(ALERTS)[0].answer["ts"])
    message = env.standin.message(ALERTS, claim_ts)
    [alert] = await env.open_alerts()
    answer, _ = await env.click(
        user=user, action_id=cards.RESOLVE, value=str(alert.id), message=message
    )
    assert answer.status == 200
    await env.settle()
    return alert.id


async def send_view(
    env: SlackEnv, *, user: str, kind: str, alert_id: int, values: dict[str, Any] | None = None
) -> Answer:
    payload = {
        "type": kind,
        "team": {"id": TEAM, "domain": "acme-test"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0BOTAPP1",
        "token": "legacy-verification-token",
        "view": {
            "id": "V0FORM001",
            "type": "modal",
            "team_id": TEAM,
            "callback_id": cards.FORM_SUBMIT,
            "private_metadata": str(alert_id),
            "state": {"values": values or {}},
        },
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return await env.post_raw(body, content_type="application/x-www-form-urlencoded")


def answers(env: SlackEnv, **chosen: str) -> dict[str, Any]:
    kinds = {"failure_class": "static_select", "owner": "static_select", "due": "datepicker"}
    values: dict[str, Any] = {}
    for name, value in chosen.items():
        kind = kinds.get(name, "plain_text_input")
        if kind == "static_select":
            state = {"type": kind, "selected_option": {"value": value}}
        elif kind == "datepicker":
            state = {"type": kind, "selected_date": value}
        else:
            state = {"type": kind, "value": value}
        values[name] = {name: state}
    return values


async def test_resolve_opens_the_form_and_its_answers_are_recorded(env: SlackEnv) -> None:
    alert_id = await resolve(env)
    [opened] = env.standin.calls_to("views.open")
    assert opened.args["trigger_id"] == "1337.42.abcd"
    view = opened.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == cards.FORM_SUBMIT and view["private_metadata"] == str(alert_id)
    assert view["notify_on_close"] is True and view["close"]["text"] == "Skip"
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert {"failure_class", "why_passed", "follow_up", "owner", "due"} <= set(blocks)
    assert blocks["owner"]["element"]["initial_option"]["value"] == "bob"  # learning owner
    assert len(blocks["failure_class"]["element"]["options"]) == 8

    due = (env.clock.now() + timedelta(days=5)).date().isoformat()
    values = answers(
        env,
        failure_class="bad_routing_rule",
        why_passed="the rule matched the staging label",
        follow_up="split the rule per environment",
        owner="bob",
        due=due,
    )
    answer = await send_view(
        env, user="U0ALICE01", kind="view_submission", alert_id=alert_id, values=values
    )
    assert answer.status == 200
    shown = answer.json()
    assert shown["response_action"] == "update"
    assert "bad routing rule" in json.dumps(shown["view"])
    actions = [e.action for e in await env.audit()]
    assert "review.form_recorded" in actions

    # /review <system>: the latest resolved alert, through the response_url
    answer, response_url = await env.command("/review", "billing-router", user="U0BOB0002")
    assert answer.status == 200
    await env.settle()
    path = response_url.removeprefix(env.standin.url)
    [reply] = [c for c in env.standin.calls_to("response_url") if c.path == path]
    text = json.dumps(reply.args)
    assert f"Review of alert #{alert_id}" in text and "bad routing rule" in text
    assert "split the rule per environment" in text


async def test_closing_the_form_records_a_skip(env: SlackEnv) -> None:
    alert_id = await resolve(env)
    answer = await send_view(env, user="U0ALICE01", kind="view_closed", alert_id=alert_id)
    assert answer.status == 200
    assert "review.form_skipped" in [e.action for e in await env.audit()]


async def test_someone_outside_ack_by_is_refused(env: SlackEnv) -> None:
    alert_id = await resolve(env)
    values = answers(env, failure_class="bad_judgment", why_passed="not mine to say")
    answer = await send_view(
        env, user="U0MALLORY", kind="view_submission", alert_id=alert_id, values=values
    )
    assert answer.status == 200
    assert "Not yours to answer" in json.dumps(answer.json()["view"])
    actions = [e.action for e in await env.audit()]
    assert "review.form_refused" in actions and "review.form_recorded" not in actions


async def test_an_expired_trigger_leaves_buttons_to_open_the_form_later(env: SlackEnv) -> None:
    assert (await env.send_event(load_fixture("alertmanager_firing.json"))).status == 200
    await env.settle()
    [alert] = await env.open_alerts()
    claim_ts = str(env.standin.posts(ALERTS)[0].answer["ts"])
    message = env.standin.message(ALERTS, claim_ts)
    # The stand-in refuses the trigger "expired", as Slack does one older than 3 s.
    body = {
        "type": "block_actions",
        "user": {"id": "U0ALICE01", "team_id": TEAM},
        "team": {"id": TEAM, "domain": "acme-test"},
        "api_app_id": "A0BOTAPP1",
        "token": "legacy-verification-token",
        "channel": {"id": ALERTS, "name": "alerts"},
        "trigger_id": "expired",
        "response_url": env.standin.response_url(),
        "container": {"type": "message", "message_ts": claim_ts, "channel_id": ALERTS},
        "message": message,
        "actions": [{"action_id": cards.RESOLVE, "block_id": "actions", "type": "button",
                     "value": str(alert.id)}],
    }  # fmt: skip
    raw = urlencode({"payload": json.dumps(body)}).encode()
    answer = await env.post_raw(raw, content_type="application/x-www-form-urlencoded")
    assert answer.status == 200
    await env.settle()
    assert env.standin.calls_to("views.open", ok=False)
    [offer] = env.standin.calls_to("chat.postEphemeral")
    shown = json.dumps(offer.args)
    assert cards.FORM_OPEN in shown and cards.FORM_SKIP in shown
