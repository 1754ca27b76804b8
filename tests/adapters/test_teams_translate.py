"""The Teams converters on their own: activity JSON -> neutral events, neutral cards ->
Adaptive Cards. And the boundary: botbuilder is imported only under adapters/teams/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from adapters.teams import adaptive, translate
from bot import cards
from bot.cards import Button, Card, Mention
from bot.domain import MessageRef, UserRef
from tests.adapters.teams_standin import (
    ALERTS,
    ALICE,
    BOB,
    card_click,
    channel_post,
    personal,
    submit_click,
)

URL = "https://smba.trafficmanager.net/amer/"
ROOT = Path(__file__).resolve().parents[2]


def test_botbuilder_is_imported_only_inside_adapters_teams() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "build") or relative.parts[:2] == ("adapters", "teams"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.split(".")[0] in ("botbuilder", "botframework", "msrest"):
                    offenders.append(f"{relative}: {name}")
    assert offenders == []


# ---- inbound ---------------------------------------------------------------------------------


def test_a_mention_of_the_bot_is_removed_before_the_command_is_read() -> None:
    activity = channel_post(
        URL, "who-owns billing-router", sender=ALICE.account(), mention_bot=True
    )

    inbound = translate.parse_activity(activity)
    command = translate.to_command(inbound)

    assert inbound.mentions_bot and inbound.addressed
    assert inbound.text == "who-owns billing-router"
    assert command is not None
    assert (command.command, command.args) == ("who-owns", "billing-router")
    assert command.user == UserRef("teams", ALICE.aad)
    assert command.channel == ALERTS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("who-owns billing-router", ("who-owns", "billing-router")),
        ("Who owns billing-router", ("who-owns", "billing-router")),
        (
            "/stop billing-router routing to the wrong queue",
            ("stop", "billing-router routing to the wrong queue"),
        ),
        ("RESUME billing-router", ("resume", "billing-router")),
        ("help", ("help", "")),
        ("", ("help", "")),
        ("dance", None),
    ],
)
def test_commands(text: str, expected: tuple[str, str] | None) -> None:
    assert translate.parse_command(text) == expected


def test_a_personal_message_is_a_command_without_a_channel() -> None:
    inbound = translate.parse_activity(personal(URL, BOB, "stop billing-router"))
    command = translate.to_command(inbound)

    assert inbound.personal and inbound.addressed
    assert command is not None and command.channel is None
    assert command.user == UserRef("teams", BOB.aad)


def test_a_channel_post_is_an_alert_with_its_thread() -> None:
    activity = channel_post(URL, "billing-router: <b>error rate</b> 12%&nbsp;above threshold")

    inbound = translate.parse_activity(activity)
    alert = translate.to_alert(inbound, activity)

    assert inbound.channel == ALERTS and inbound.thread == activity["id"] and inbound.top_level
    assert alert is not None
    assert alert.text == "billing-router: error rate 12% above threshold"
    assert alert.channel == ALERTS
    assert alert.message == MessageRef("teams", ALERTS, activity["id"], None)
    assert alert.event_id.endswith(activity["id"])


@pytest.mark.parametrize(
    ("sender", "person"),
    [
        (ALICE.account(), True),  # a person in Teams: a "29:" id and an AAD object id
        ({"id": "29:1someoneteamsid", "name": "Someone"}, True),
        ({"id": "5f0c-emulator-user", "name": "User", "role": "user"}, True),  # the Emulator
        (None, False),  # the stand-in's default: a "28:" connector
        ({"id": "28:power-automate-flow", "name": "Workflows"}, False),
        ({"id": "29:1odd", "name": "A bot", "role": "bot"}, False),
        ({"id": "webhook-without-prefix", "name": "Incoming Webhook"}, False),
    ],
)
def test_a_persons_post_carries_its_author_and_an_integrations_does_not(
    sender: dict[str, str] | None, person: bool
) -> None:
    activity = channel_post(URL, "Resolved: billing-router errors", sender=sender)

    inbound = translate.parse_activity(activity)
    alert = translate.to_alert(inbound, activity)

    assert alert is not None and inbound.from_person is person
    assert alert.author == (inbound.user if person else None)
    if sender is not None and "aadObjectId" in sender:
        assert alert.author == UserRef("teams", sender["aadObjectId"])


def test_a_reply_inside_a_thread_is_not_an_alert() -> None:
    activity = channel_post(URL, "billing-router: still broken", thread="1700000000000")

    inbound = translate.parse_activity(activity)

    assert not inbound.top_level
    assert translate.to_alert(inbound, activity) is None


def test_card_text_of_integrations_is_read() -> None:
    activity = channel_post(
        URL,
        "",
        attachments=[
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "body": [
                        {"type": "TextBlock", "text": "**[FIRING]** support-drafter latency"},
                        {"type": "FactSet", "facts": [{"title": "p99", "value": "9s"}]},
                    ],
                },
            },
            {"contentType": "text/html", "content": "<div>support-drafter latency</div>"},
        ],
    )

    alert = translate.to_alert(translate.parse_activity(activity), activity)

    assert alert is not None
    assert alert.text == "**[FIRING]** support-drafter latency\np99: 9s\nsupport-drafter latency"


def test_an_execute_invoke_is_a_click_on_the_card_message() -> None:
    conversation = f"{ALERTS};messageid=1700000000001"
    activity = card_click(
        URL,
        ALICE,
        verb=cards.HAND_OFF,
        value="7",
        card_id="1700000000002",
        conversation=conversation,
        target=BOB.aad,
    )

    click = translate.to_click(translate.parse_activity(activity))

    assert click is not None
    assert click.action == cards.HAND_OFF and click.value == "7"
    assert click.user == UserRef("teams", ALICE.aad)
    assert click.target == UserRef("teams", BOB.aad)
    assert click.message == MessageRef("teams", ALERTS, "1700000000002", "1700000000001")


def test_a_submit_fallback_is_a_click_too() -> None:
    activity = submit_click(
        URL, ALICE, action=cards.ACK, value="7", card_id="17", conversation=f"{ALERTS};messageid=1"
    )

    click = translate.to_click(translate.parse_activity(activity))

    assert click is not None and (click.action, click.value) == (cards.ACK, "7")


@pytest.mark.parametrize(
    "value",
    [
        None,
        {"action": "alert.ack"},
        {"action": {"type": "Action.Submit", "verb": "alert.ack"}},
        {"action": {"type": "Action.Execute", "data": {}}},
        {"action": {"type": "Action.Execute", "verb": "alert.ack", "data": "x"}},
    ],
)
def test_malformed_invokes_are_bad_activities(value: object) -> None:
    activity = card_click(
        URL, ALICE, verb=cards.ACK, value="1", card_id="1", conversation=f"{ALERTS};messageid=1"
    )
    activity["value"] = value

    with pytest.raises(translate.BadActivity):
        translate.parse_activity(activity)


def test_conversation_ids() -> None:
    assert translate.split_conversation(f"{ALERTS};messageid=42") == (ALERTS, "42")
    assert translate.split_conversation("a:1chat") == ("a:1chat", None)
    assert translate.thread_conversation(ALERTS, "42") == f"{ALERTS};messageid=42"
    assert translate.thread_conversation("a:1chat", "42") == "a:1chat"
    assert translate.thread_conversation("19:chat@thread.v2", "42") == "19:chat@thread.v2"


# ---- outbound --------------------------------------------------------------------------------


def test_a_card_becomes_an_adaptive_card_1_5_with_execute_and_submit_fallback() -> None:
    alice = Mention("Alice Ng", UserRef("teams", ALICE.aad))
    card = Card(
        title="billing-router: error rate high",
        lines=(("Claimed for ", alice, " (operator)."), ("Held by ", Mention("Nobody Known"), ".")),
        fields=(("System", "Billing ticket router"),),
        buttons=(
            Button(cards.ACK, "Acknowledge", "7", style="primary"),
            Button(cards.STOP_CONFIRM, "Yes, stop", "3", style="danger"),
            Button(cards.HAND_OFF, "Hand off", "7", picks_user=True),
        ),
        tone="alert",
        link="https://grafana.example.com/d/1",
    )

    content = adaptive.adaptive_card(card)

    assert content["type"] == "AdaptiveCard" and content["version"] == "1.5"
    title, first, second, facts = content["body"]
    assert title["text"] == "billing-router: error rate high" and title["color"] == "Attention"
    assert first["text"] == "Claimed for <at>Alice Ng</at> (operator)."
    assert second["text"] == "Held by Nobody Known."  # no Teams user: no mention entity
    assert facts["facts"] == [{"title": "System", "value": "Billing ticket router"}]
    assert content["msteams"]["entities"] == [
        {
            "type": "mention",
            "text": "<at>Alice Ng</at>",
            "mentioned": {"id": ALICE.aad, "name": "Alice Ng"},
        }
    ]
    ack, stop, hand_off, link = content["actions"]
    assert ack == {
        "type": "Action.Execute",
        "title": "Acknowledge",
        "verb": cards.ACK,
        "data": {"action": cards.ACK, "value": "7"},
        "style": "positive",
        "fallback": {
            "type": "Action.Submit",
            "title": "Acknowledge",
            "data": {"action": cards.ACK, "value": "7"},
            "style": "positive",
        },
    }
    assert stop["style"] == "destructive"
    assert hand_off["type"] == "Action.ShowCard"
    [picker] = hand_off["card"]["body"]
    assert picker["type"] == "Input.ChoiceSet" and picker["id"] == "target"
    assert picker["choices.data"] == {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
    [execute] = hand_off["card"]["actions"]
    assert execute["verb"] == cards.HAND_OFF and execute["fallback"]["type"] == "Action.Submit"
    assert link == {
        "type": "Action.OpenUrl",
        "title": "Open",
        "url": "https://grafana.example.com/d/1",
    }


def test_invoke_answers() -> None:
    card = Card(title="Done")

    assert adaptive.invoke_card(card)["type"] == "application/vnd.microsoft.card.adaptive"
    assert adaptive.invoke_card(card)["value"]["version"] == "1.5"
    assert adaptive.invoke_message("Not yours") == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Not yours",
    }
    assert adaptive.invoke_error(400, "bad")["statusCode"] == 400
