"""The resolve form and the review through Teams, wire to wire: Resolve posts an Adaptive Card
with inputs in the claim's thread; its Record (Action.Execute with the inputs in its data)
and Skip come back as `adaptiveCard/action` invokes; `review` is a text command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import cards
from tests.adapters.teams_standin import (
    ALERTS,
    ALICE,
    BOB,
    CAROL,
    MALLORY,
    ConnectorStandIn,
    Person,
    RunningBot,
    card_click,
    card_of,
    card_text,
    channel_post,
    personal,
    personal_chat,
    running_bot,
    team_installed,
)


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


def thread_of(post: dict[str, Any]) -> str:
    return f"{ALERTS};messageid={post['id']}"


def is_form(card: dict[str, Any]) -> bool:
    return any(b.get("type", "").startswith("Input.") for b in card.get("body", []))


async def resolved(bot: RunningBot, standin: ConnectorStandIn) -> tuple[int, str, dict[str, Any]]:
    """An alert claimed and resolved by alice: its id, its thread and the form posted there."""
    post = channel_post(standin.service_url, "billing-router: error rate 12% above threshold")
    assert (await bot.post(post))[0] == 200
    thread = thread_of(post)
    await standin.wait_for(lambda: standin.messages(thread))
    claim = standin.messages(thread)[0]
    async with bot.runtime.store.transaction() as tx:
        [alert] = await tx.alerts.unresolved()
    status, body = await bot.post(
        card_click(
            standin.service_url,
            ALICE,
            verb=cards.RESOLVE,
            value=str(alert.id),
            card_id=str(claim.answer_id),
            conversation=thread,
        )
    )
    assert status == 200
    assert "Resolved by alice" in card_text(body["value"])  # the claim, redrawn
    forms = [card_of(c) for c in standin.messages(thread) if is_form(card_of(c))]
    assert len(forms) == 1
    return alert.id, thread, forms[0]


def form_click(
    standin: ConnectorStandIn,
    person: Person,
    *,
    verb: str,
    alert_id: int,
    thread: str,
    inputs: dict[str, str] | None = None,
) -> dict[str, Any]:
    activity = card_click(
        standin.service_url,
        person,
        verb=verb,
        value=str(alert_id),
        card_id="1",
        conversation=thread,
    )
    activity["value"]["action"]["data"].update(inputs or {})  # Teams merges the inputs here
    return activity


async def actions(bot: RunningBot) -> list[str]:
    async with bot.runtime.store.transaction() as tx:
        return [e.action for e in await tx.evidence.entries()]


async def test_the_form_card_is_recorded_and_the_review_answers_by_text_command(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    alert_id, thread, form = await resolved(bot, standin)
    inputs = {b["id"]: b for b in form["body"] if "id" in b}
    assert inputs["failure_class"]["type"] == "Input.ChoiceSet"
    assert len(inputs["failure_class"]["choices"]) == 8
    assert inputs["why_passed"]["type"] == "Input.Text"
    assert inputs["owner"]["value"] == "bob"  # the learning owner by default
    assert inputs["due"]["type"] == "Input.Date"
    record, skip = form["actions"]
    assert record["verb"] == cards.FORM_SUBMIT and record["fallback"]["type"] == "Action.Submit"
    assert skip["verb"] == cards.FORM_SKIP and skip["associatedInputs"] == "none"

    due = (bot.clock.now() + timedelta(days=4)).date().isoformat()
    status, body = await bot.post(
        form_click(
            standin,
            ALICE,
            verb=cards.FORM_SUBMIT,
            alert_id=alert_id,
            thread=thread,
            inputs={
                "failure_class": "bad_source",
                "why_passed": "the error budget feed was stale",
                "follow_up": "alert on a stale feed",
                "owner": "bob",
                "due": due,
            },
        )
    )
    assert status == 200
    assert "bad source" in card_text(body["value"])  # the form replaced by what was recorded
    assert "review.form_recorded" in await actions(bot)

    status, _ = await bot.post(personal(standin.service_url, BOB, "review billing-router"))
    assert status == 200
    [reply] = standin.messages(personal_chat(BOB))
    shown = card_text(card_of(reply))
    assert f"Review of alert #{alert_id}" in shown
    assert "the error budget feed was stale" in shown and "alert on a stale feed" in shown


async def test_skip_is_recorded(bot: RunningBot, standin: ConnectorStandIn) -> None:
    alert_id, thread, _ = await resolved(bot, standin)
    status, body = await bot.post(
        form_click(standin, ALICE, verb=cards.FORM_SKIP, alert_id=alert_id, thread=thread)
    )
    assert status == 200 and "Skipped" in card_text(body["value"])
    assert "review.form_skipped" in await actions(bot)


async def test_someone_outside_ack_by_is_refused(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    alert_id, thread, _ = await resolved(bot, standin)
    status, body = await bot.post(
        form_click(
            standin,
            MALLORY,
            verb=cards.FORM_SUBMIT,
            alert_id=alert_id,
            thread=thread,
            inputs={"failure_class": "bad_judgment", "why_passed": "mine"},
        )
    )
    assert status == 200 and "Not yours to answer" in str(body["value"])
    logged = await actions(bot)
    assert "review.form_refused" in logged and "review.form_recorded" not in logged
