"""The pure Slack converters: payload -> neutral event, neutral Card -> Block Kit."""

from __future__ import annotations

import json

import pytest

from adapters.slack import blocks as block_kit
from adapters.slack import commands, translate
from adapters.slack.app import parse_body
from bot import cards
from bot.cards import Button, Card, Mention
from bot.domain import UserRef
from bot.matching import fingerprint, status_of
from tests.adapters.slack_standin import load_fixture


def test_a_card_becomes_block_kit_with_mentions_and_stable_action_ids() -> None:
    card = Card(
        title="billing-router: p99 <2s & rising>",
        lines=(("Claimed for ", Mention("Alice Ng", UserRef("slack", "U0ALICE01")), "."),),
        fields=(("System", "Billing ticket router"),),
        buttons=(
            Button(cards.ACK, "Acknowledge", "7", style="primary"),
            Button(cards.RESOLVE, "Resolve", "7"),
            Button(cards.HAND_OFF, "Hand off", "7", picks_user=True),
        ),
        tone="alert",
        link="https://acme.slack.com/archives/C1/p1",
    )
    blocks = block_kit.card_blocks(card)
    assert blocks[0]["text"]["text"] == (
        ":rotating_light: *billing-router: p99 &lt;2s &amp; rising&gt;*"
    )
    assert blocks[1]["text"]["text"] == "Claimed for <@U0ALICE01>."
    assert blocks[2]["fields"] == [{"type": "mrkdwn", "text": "*System*\nBilling ticket router"}]
    assert (
        blocks[3]["elements"][0]["text"] == "<https://acme.slack.com/archives/C1/p1|View the alert>"
    )
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert actions["block_id"] == "pick|7"  # the picker's value rides in the block id
    assert [e["action_id"] for e in actions["elements"]] == [
        cards.ACK,
        cards.RESOLVE,
        cards.HAND_OFF,
    ]
    assert [e["type"] for e in actions["elements"]] == ["button", "button", "users_select"]
    assert actions["elements"][0]["style"] == "primary"
    assert "style" not in actions["elements"][1]
    assert block_kit.card_text(card).endswith("Claimed for <@U0ALICE01>.")


def test_a_person_without_a_slack_id_is_named_not_mentioned() -> None:
    card = Card(title="t", lines=(("then ", Mention("Carol Diaz"), "."),))
    assert block_kit.card_blocks(card)[1]["text"]["text"] == "then Carol Diaz."


def test_repeated_actions_get_one_row_per_value() -> None:
    card = Card(
        title="Ownership check",
        buttons=(
            Button(cards.ROLE_CONFIRM, "Still mine: a", "a:operator"),
            Button(cards.ROLE_HAND_OFF, "Hand off: a", "a:operator", picks_user=True),
            Button(cards.ROLE_CONFIRM, "Still mine: b", "b:steward"),
            Button(cards.ROLE_HAND_OFF, "Hand off: b", "b:steward", picks_user=True),
        ),
    )
    rows = [b for b in block_kit.card_blocks(card) if b["type"] == "actions"]
    assert [r["block_id"] for r in rows] == ["pick|a:operator", "pick|b:steward"]
    for row in rows:
        assert [e["action_id"] for e in row["elements"]] == [
            cards.ROLE_CONFIRM,
            cards.ROLE_HAND_OFF,
        ]
    same_value = Card(
        title="x", buttons=(Button("alert.ack", "A", "1"), Button("alert.ack", "B", "1"))
    )
    [row] = [b for b in block_kit.card_blocks(same_value) if b["type"] == "actions"]
    assert [e["action_id"] for e in row["elements"]] == ["alert.ack", "alert.ack#2"]


BOT_ACTIONS = sorted(
    v for k, v in vars(cards).items() if k.isupper() and isinstance(v, str) and "." in v
)


@pytest.mark.parametrize("action", BOT_ACTIONS)
def test_every_bot_action_is_listened_for(action: str) -> None:
    assert translate.ACTION_PATTERN.match(action)
    assert translate.ACTION_PATTERN.match(action + "#3")
    assert translate.base_action(action + "#3") == action


def test_the_bot_actions_are_all_there() -> None:
    assert {cards.ACK, cards.RESOLVE, cards.HAND_OFF, cards.STOP_CONFIRM} <= set(BOT_ACTIONS)


def test_a_user_pick_is_a_hand_off_click() -> None:
    body = {
        "type": "block_actions",
        "user": {"id": "U0ALICE01"},
        "channel": {"id": "C0ALERTS1"},
        "container": {"type": "message", "channel_id": "C0ALERTS1", "is_ephemeral": False},
        "message": {"ts": "1800000002.000002", "thread_ts": "1800000001.000001"},
        "response_url": "https://hooks.slack.com/actions/T/1/x",
        "actions": [
            {
                "type": "users_select",
                "action_id": cards.HAND_OFF,
                "block_id": "pick|12",
                "selected_user": "U0DANA004",
            }
        ],
    }
    parsed = translate.click_from_payload(body)
    assert parsed is not None
    click, where = parsed
    assert (click.action, click.value, click.target) == (
        cards.HAND_OFF,
        "12",
        UserRef("slack", "U0DANA004"),
    )
    assert click.message is not None and click.message.thread_root == "1800000001.000001"
    assert (where.channel, where.thread, where.ephemeral) == (
        "C0ALERTS1",
        "1800000001.000001",
        False,
    )


@pytest.mark.parametrize(
    ("slash", "command"),
    [
        ("/who-owns", "who-owns"),
        ("/stop", "stop"),
        ("/resume", "resume"),
        ("/ab-stop", "stop"),
        ("/acme_who-owns", "who-owns"),
        ("/nonstop", None),
        ("/weather", None),
    ],
)
def test_command_names(slash: str, command: str | None) -> None:
    assert commands.command_name(slash) == command


def test_command_text_is_unescaped() -> None:
    given = translate.command_from_payload(
        {
            "command": "/stop",
            "text": "billing-router p99 &gt; 2s",
            "user_id": "U1",
            "channel_id": "C1",
        }
    )
    assert given is not None and given.args == "billing-router p99 > 2s"


def test_message_text_reads_attachments_and_blocks() -> None:
    text = translate.message_text(load_fixture("pagerduty_triggered.json"))
    assert text.splitlines()[0] == "*[#4182] billing-router: routing model error rate above 5%*"
    assert "*Status:* Triggered" in text.splitlines()
    sentry = translate.message_text(load_fixture("sentry_issue.json"))
    assert "Project: support-drafter" in sentry  # link labels, not URLs
    assert ":red_circle:" not in sentry


def test_mrkdwn_is_read_as_plain_text() -> None:
    assert translate.plain("<!here> :fire: <https://x.example|Disk> &amp; <@U1> <#C1|alerts>") == (
        "Disk & @U1 alerts"
    )
    assert translate.plain(":red_circle: *Triggered*") == "*Triggered*"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("[P2] [Recovered on {env:prod}] risk-scorer latency", "resolved"),
        ("[P2] [Triggered on {env:prod}] risk-scorer latency", "firing"),
        ("*[#4182] billing-router errors*\n*Status:* Resolved", "resolved"),
        ("*[#4182] billing-router errors*\n*Status:* Acknowledged", "firing"),
        ("[FIRING:2] BillingRouterErrorRate\nStatus: resolved", "firing"),  # the title decides
    ],
)
def test_status_of_slack_formats(text: str, status: str) -> None:
    assert status_of(text) == status


def test_datadog_fingerprint_survives_the_status_change() -> None:
    fired = fingerprint("[P2] [Triggered on {env:prod}] risk-scorer latency above 2s", system="r")
    ended = fingerprint("[P2] [Recovered on {env:prod}] risk-scorer latency above 2s", system="r")
    assert fired == ended


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        (b'{"type": "event_callback"}', "application/json", {"type": "event_callback"}),
        (
            b"command=%2Fstop&text=payload-router",
            "application/x-www-form-urlencoded",
            {"command": "/stop", "text": "payload-router"},
        ),
        (
            b"payload=%7B%22type%22%3A%22block_actions%22%7D",
            "application/x-www-form-urlencoded",
            {"type": "block_actions"},
        ),
    ],
)
def test_parse_body(raw: bytes, content_type: str, expected: dict[str, str]) -> None:
    assert parse_body(raw, content_type) == expected


def test_block_kit_is_json_serialisable_and_within_limits() -> None:
    long = Card(title="x" * 5000, lines=tuple((f"line {n} " + "y" * 400,) for n in range(30)))
    blocks = block_kit.card_blocks(long)
    json.dumps(blocks)
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if "text" in b)
    assert len(block_kit.card_text(long)) <= 3000


def test_a_link_cannot_break_out_of_its_mrkdwn_link() -> None:
    card = Card(title="t", link="https://grafana.example/d?a=1&b=2><!channel>|pwned <!here>")
    [context] = [b for b in block_kit.card_blocks(card) if b["type"] == "context"]
    text = context["elements"][0]["text"]
    assert text == (
        "<https://grafana.example/d?a=1&amp;b=2%3E%3C!channel%3E%7Cpwned%20%3C!here%3E"
        "|View the alert>"
    )
    # one link, with one label: nothing outside it for Slack to read as a broadcast
    assert (text.count("<"), text.count(">"), text.count("|")) == (1, 1, 1)
    assert translate.plain(text) == "View the alert"


def test_mrkdwn_text_is_escaped_everywhere_and_mentions_carry_only_ids() -> None:
    card = Card(
        title="<!channel> & co",
        lines=(
            (
                "by ",
                Mention("Eve <!here>", UserRef("slack", "U1><!channel")),
                " and ",
                Mention("Alice", UserRef("slack", "U0ALICE01")),
            ),
        ),
        fields=(("<!here>", "a & <b>"),),
    )
    shown = json.dumps(block_kit.message_args(card))
    assert "<!channel>" not in shown and "<!here>" not in shown
    blocks = block_kit.card_blocks(card)
    assert blocks[1]["text"]["text"] == "by Eve &lt;!here&gt; and <@U0ALICE01>"
    assert blocks[2]["fields"][0]["text"] == "*&lt;!here&gt;*\na &amp; &lt;b&gt;"
    assert block_kit.card_text(card).startswith("&lt;!channel&gt; &amp; co")


def _message_event(message: dict[str, object], *, edited: bool = False) -> dict[str, object]:
    event: dict[str, object] = (
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": "C0ALERTS1",
            "message": message,
        }
        if edited
        else {"type": "message", "channel": "C0ALERTS1", **message}
    )
    return {"type": "event_callback", "event_id": "Ev1", "event": event}


@pytest.mark.parametrize(
    ("message", "edited", "author"),
    [
        ({"user": "U0BOB0002", "text": "Resolved: billing-router"}, False, "U0BOB0002"),
        ({"user": "U0BOB0002", "text": "Resolved: billing-router"}, True, "U0BOB0002"),
        ({"bot_id": "B1", "user": "U0BOT", "text": "Resolved: billing-router"}, False, None),
        ({"bot_profile": {"id": "B1"}, "user": "U0BOT", "text": "[RESOLVED] x"}, False, None),
        ({"subtype": "bot_message", "username": "grafana", "text": "[RESOLVED] x"}, False, None),
        ({"text": "[RESOLVED] billing-router"}, False, None),
    ],
)
def test_a_person_is_the_author_of_their_message_and_an_integration_is_not(
    message: dict[str, object], edited: bool, author: str | None
) -> None:
    body = _message_event({"ts": "1800000001.000001", **message}, edited=edited)
    seen = translate.alert_from_event(
        body, me=translate.Identity(), watched=frozenset({"C0ALERTS1"})
    )
    assert seen is not None
    assert seen.author == (UserRef("slack", author) if author else None)
    assert translate.is_from_person(body) == (author is not None)
