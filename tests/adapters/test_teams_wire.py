"""Teams end to end at the wire: Bot Framework activities POSTed to the running `serve` app,
the bot's connector calls answered and recorded by a stand-in on 127.0.0.1, time moved by
hand. The bot runs as in production (TEAMS_APP_ID, the test tenant pinned) and every activity
carries a token signed with a key the stand-in publishes."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from adapters.teams.bot import TEAMS_BOT
from bot import cards
from store.database import make_engine
from tests.adapters.teams_standin import (
    ALERTS,
    ALICE,
    BOB,
    CAROL,
    DANA,
    ELSEWHERE,
    MALLORY,
    REGISTRY,
    TEAM,
    TENANT,
    Call,
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
    submit_click,
    team_installed,
    verbs,
)
from tests.conftest import PG_URL, drop_schema, require_postgres


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


def thread_of(post: dict[str, object]) -> str:
    return f"{ALERTS};messageid={post['id']}"


async def audit_actions(bot: RunningBot) -> list[tuple[str, dict[str, object]]]:
    async with bot.runtime.store.transaction() as tx:
        return [(e.action, e.detail) for e in await tx.evidence.entries()]


async def alert_claimed(
    bot: RunningBot, standin: ConnectorStandIn
) -> tuple[dict[str, object], Call]:
    post = channel_post(standin.service_url, "billing-router: error rate 12% above threshold")
    status, _ = await bot.post(post)
    assert status == 200
    await standin.wait_for(lambda: standin.messages(thread_of(post)))
    return post, standin.messages(thread_of(post))[0]


def claim_click(
    standin: ConnectorStandIn,
    post: dict[str, object],
    claim: Call,
    user: Person,
    verb: str,
    alert_id: int,
    target: str | None = None,
) -> dict[str, Any]:
    """A click by `user` on a button of the claim card posted in `post`'s thread."""
    return card_click(
        standin.service_url,
        user,
        verb=verb,
        value=str(alert_id),
        card_id=str(claim.answer_id),
        conversation=thread_of(post),
        target=target,
    )


# ---- who-owns, help -----------------------------------------------------------------------------


async def test_personal_who_owns_a_known_system(bot: RunningBot, standin: ConnectorStandIn) -> None:
    status, _ = await bot.post(personal(standin.service_url, BOB, "who-owns billing-router"))

    assert status == 200
    [reply] = standin.messages(personal_chat(BOB))
    card = card_of(reply)
    shown = card_text(card)
    assert card["version"] == "1.5"
    assert "Who owns billing-router (Billing ticket router)" in shown
    assert "Operator: <at>Alice Ng</at>" in shown
    assert "Stop authority: <at>Carol Diaz</at>" in shown
    assert "Escalation map: Bob Ruiz (maintainer) after 10m" in shown
    assert "Status: running" in shown
    mentioned = {e["mentioned"]["id"] for e in card["msteams"]["entities"]}
    assert {ALICE.aad, CAROL.aad} <= mentioned  # alice found by email in the team roster
    assert reply.activity_id is not None  # a reply to bob's message
    assert reply.authorization is None  # no app id: no token on outbound calls either
    async with bot.runtime.store.transaction() as tx:
        chat = await tx.conversations.personal(user_aad_id=BOB.aad)
    assert chat is not None and chat.conversation_id == personal_chat(BOB)
    assert chat.service_url == standin.service_url and chat.tenant_id == TENANT


async def test_personal_who_owns_an_unknown_system(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    status, _ = await bot.post(personal(standin.service_url, BOB, "who-owns biling-router"))

    assert status == 200
    [reply] = standin.messages(personal_chat(BOB))
    shown = card_text(card_of(reply))
    assert "No system called 'biling-router'" in shown
    assert "Did you mean: billing-router?" in shown


async def test_help_and_words_the_bot_does_not_know(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    await bot.post(personal(standin.service_url, BOB, "help"))
    await bot.post(personal(standin.service_url, BOB, "dance please"))

    first, second = standin.messages(personal_chat(BOB))
    assert "stop <system> [reason]" in card_text(card_of(first))
    assert "I do not know 'dance'" in card_text(card_of(second))
    assert "who-owns <system>" in card_text(card_of(second))


async def test_who_owns_addressed_to_the_bot_in_a_channel_answers_in_the_thread(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post = channel_post(
        standin.service_url, "who-owns billing-router", sender=ALICE.account(), mention_bot=True
    )
    status, _ = await bot.post(post)

    assert status == 200
    [reply] = standin.messages(thread_of(post))
    assert "Who owns billing-router" in card_text(card_of(reply))
    async with bot.runtime.store.transaction() as tx:
        assert await tx.alerts.unresolved() == []  # a command, not an alert


async def test_a_personal_install_is_remembered_and_greeted(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    install = personal(standin.service_url, DANA, "")
    install.update(type="installationUpdate", action="add")
    del install["text"]

    status, _ = await bot.post(install)

    assert status == 200
    [greeting] = standin.messages(personal_chat(DANA))
    assert "who-owns <system>" in card_text(card_of(greeting))
    async with bot.runtime.store.transaction() as tx:
        chat = await tx.conversations.personal(user_aad_id=DANA.aad)
    assert chat is not None and chat.conversation_id == personal_chat(DANA)


# ---- alerts, escalation, acknowledgement --------------------------------------------------------


async def test_channel_alert_is_claimed_escalated_and_acknowledged(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post = channel_post(standin.service_url, "billing-router: error rate 12% above threshold")
    status, _ = await bot.post(post)

    # Taken before the answer: the alert is in the database when Teams hears 200.
    assert status == 200
    async with bot.runtime.store.transaction() as tx:
        [stored] = await tx.alerts.unresolved(system="billing-router")
    assert stored.source is not None and stored.source.id == post["id"]
    assert stored.holder == "alice"

    # The claim: a reply in the alert's thread, with an Adaptive Card and its actions.
    await standin.wait_for(lambda: standin.messages(thread_of(post)))
    [claim] = standin.messages(thread_of(post))
    card = card_of(claim)
    assert card["version"] == "1.5"
    assert verbs(card) == [cards.ACK, cards.RESOLVE, cards.HAND_OFF]
    shown = card_text(card)
    assert "Claimed for <at>Alice Ng</at> (operator)" in shown
    assert "escalates to <at>Bob Ruiz</at> (maintainer)" in shown
    mentions = {e["mentioned"]["id"]: e["text"] for e in card["msteams"]["entities"]}
    assert mentions[ALICE.aad] == "<at>Alice Ng</at>"
    ack = card["actions"][0]
    assert ack["type"] == "Action.Execute"
    assert ack["data"] == {"action": cards.ACK, "value": str(stored.id)}
    assert ack["fallback"] == {
        "type": "Action.Submit",
        "title": "Acknowledge",
        "data": {"action": cards.ACK, "value": str(stored.id)},
        "style": "positive",
    }

    # Ten minutes on: the maintainer is messaged directly and named in the thread.
    bot.clock.advance(timedelta(minutes=11))
    report = await bot.runtime.service.tick()
    assert len(report.sent) == 1
    [created] = standin.of("create")
    assert created.body["members"] == [{"id": BOB.id}]
    assert created.body["channelData"] == {"tenant": {"id": TENANT}}
    [bob_chat] = standin.personal_chats_with(BOB)
    [direct] = standin.messages(bob_chat)
    assert "escalates to you (maintainer)" in card_text(card_of(direct))
    assert cards.ACK in verbs(card_of(direct))
    notice = standin.messages(thread_of(post))[-1]
    assert "Still unacknowledged: escalated to <at>Bob Ruiz</at> (maintainer)" in card_text(
        card_of(notice)
    )

    # Alice acknowledges on the card: the invoke is answered with the new card, and the claim
    # is replaced in place for everyone else.
    status, answer = await bot.post(claim_click(standin, post, claim, ALICE, cards.ACK, stored.id))
    assert status == 200
    assert answer["statusCode"] == 200
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Acknowledged: held by <at>Alice Ng</at> since 2026-11-02 09:11 UTC" in card_text(
        answer["value"]
    )
    assert cards.ACK not in verbs(answer["value"])
    [update] = standin.of("update")
    assert update.conversation == thread_of(post)
    assert update.activity_id == claim.answer_id
    assert card_of(update) == answer["value"]

    # Nothing escalates any more.
    calls = len(standin.calls)
    bot.clock.advance(timedelta(hours=1))
    assert (await bot.runtime.service.tick()).sent == []
    bot.clock.advance(timedelta(days=3))
    assert (await bot.runtime.service.tick()).sent == []
    assert len(standin.calls) == calls
    actions = [a for a, _ in await audit_actions(bot)]
    assert actions == ["alert.claimed", "alert.escalated", "alert.acknowledged"]
    async with bot.runtime.store.transaction() as tx:
        stored_chat = await tx.conversations.personal(user_aad_id=BOB.aad)
    assert stored_chat is not None and stored_chat.conversation_id == bob_chat


async def test_escalation_continues_a_stored_personal_chat(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    await bot.post(personal(standin.service_url, BOB, "help"))
    await alert_claimed(bot, standin)

    bot.clock.advance(timedelta(minutes=11))
    assert len((await bot.runtime.service.tick()).sent) == 1

    assert standin.of("create") == []
    direct = standin.messages(personal_chat(BOB))[-1]
    assert direct.activity_id is None  # a new message in the chat, not a reply
    assert "escalates to you (maintainer)" in card_text(card_of(direct))


async def test_a_person_the_bot_cannot_reach_is_named_in_the_thread(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post, _ = await alert_claimed(bot, standin)
    standin.unreachable |= {BOB.id, BOB.aad}

    bot.clock.advance(timedelta(minutes=11))
    assert len((await bot.runtime.service.tick()).sent) == 1

    assert len(standin.of("create")) == 1  # tried, refused with 403
    shown = [card_text(card_of(c)) for c in standin.messages(thread_of(post))]
    assert any("escalated to <at>Bob Ruiz</at>" in s for s in shown)
    assert any(
        "Bob Ruiz (maintainer) could not be sent a direct message; this was recorded." in s
        for s in shown
    )
    escalated = [d for a, d in await audit_actions(bot) if a == "alert.escalated"]
    assert escalated == [
        {
            "step": 1,
            "person": "bob",
            "label": "maintainer",
            "due_at": "2026-11-02 09:10 UTC",
            "direct_message": False,
        }
    ]


async def test_submit_fallback_acknowledges_and_updates_in_place(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post, claim = await alert_claimed(bot, standin)
    async with bot.runtime.store.transaction() as tx:
        [alert] = await tx.alerts.unresolved()

    status, _ = await bot.post(
        submit_click(
            standin.service_url,
            ALICE,
            action=cards.ACK,
            value=str(alert.id),
            card_id=str(claim.answer_id),
            conversation=thread_of(post),
        )
    )

    assert status == 200
    [update] = standin.of("update")
    assert update.activity_id == claim.answer_id
    assert "Acknowledged: held by <at>Alice Ng</at>" in card_text(card_of(update))
    assert len(standin.messages(thread_of(post))) == 1  # nothing but the claim itself


async def test_someone_not_on_the_system_is_told_privately(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post, claim = await alert_claimed(bot, standin)
    async with bot.runtime.store.transaction() as tx:
        [alert] = await tx.alerts.unresolved()

    status, answer = await bot.post(claim_click(standin, post, claim, MALLORY, cards.ACK, alert.id))

    assert status == 200
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert "Not yours to act on" in answer["value"]
    assert "Alice Ng holds this alert" in answer["value"]
    assert standin.of("update") == []
    async with bot.runtime.store.transaction() as tx:
        assert [a.state.value for a in await tx.alerts.unresolved()] == ["open"]


async def test_hand_off_through_the_people_picker(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post, claim = await alert_claimed(bot, standin)
    async with bot.runtime.store.transaction() as tx:
        [alert] = await tx.alerts.unresolved()

    status, answer = await bot.post(
        claim_click(standin, post, claim, ALICE, cards.HAND_OFF, alert.id, target=BOB.aad)
    )

    assert status == 200
    assert "Claimed for <at>Bob Ruiz</at>" in card_text(answer["value"])
    await standin.wait_for(lambda: standin.personal_chats_with(BOB))
    [bob_chat] = standin.personal_chats_with(BOB)
    [direct] = standin.messages(bob_chat)
    assert "Handed to you by Alice Ng" in card_text(card_of(direct))
    async with bot.runtime.store.transaction() as tx:
        assert (await tx.alerts.get(alert_id=alert.id)).holder == "bob"  # type: ignore[union-attr]


async def test_the_same_delivery_twice_is_claimed_once(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post, _ = await alert_claimed(bot, standin)

    status, _ = await bot.post(post)

    assert status == 200
    await bot.runtime.service.tick()
    assert len(standin.messages(thread_of(post))) == 1
    async with bot.runtime.store.transaction() as tx:
        assert len(await tx.alerts.unresolved()) == 1


async def test_replies_in_a_thread_and_unwatched_channels_are_not_alerts(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post, _ = await alert_claimed(bot, standin)
    chat = channel_post(
        standin.service_url,
        "looking into the billing-router errors now",
        sender=ALICE.account(),
        thread=str(post["id"]),
    )
    elsewhere = channel_post(
        standin.service_url, "billing-router: error rate high", channel=ELSEWHERE
    )

    assert (await bot.post(chat))[0] == 200
    assert (await bot.post(elsewhere))[0] == 200

    async with bot.runtime.store.transaction() as tx:
        assert len(await tx.alerts.unresolved()) == 1
    assert len(standin.messages()) == 1


async def test_a_person_talking_in_an_alert_channel_raises_an_alert_only_naming_a_system(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    chat = channel_post(standin.service_url, "anyone up for lunch?", sender=ALICE.account())
    no_system = channel_post(standin.service_url, "[FIRING] disk full on build-agent-7")
    named = channel_post(
        standin.service_url,
        "billing-router is sending tickets to the wrong queue",
        sender=BOB.account(),
    )

    for post in (chat, no_system, named):
        assert (await bot.post(post))[0] == 200

    # The person's chatter is ignored; the connector's post that names nothing is an unowned
    # alert as before; the person who names a system raised an alert.
    await standin.wait_for(lambda: standin.messages(thread_of(named)))
    async with bot.runtime.store.transaction() as tx:
        stored = {a.source.id if a.source else None: a for a in await tx.alerts.unresolved()}
    assert set(stored) == {no_system["id"], named["id"]}
    assert stored[named["id"]].system == "billing-router"
    assert stored[no_system["id"]].system is None
    assert standin.messages(thread_of(chat)) == []


async def test_an_alert_inside_a_connector_card_is_read(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    post = channel_post(
        standin.service_url,
        "",
        attachments=[
            {
                "contentType": "application/vnd.microsoft.teams.card.o365connector",
                "content": {
                    "title": "[FIRING:1] RoutingModelDrift",
                    "sections": [
                        {
                            "activityTitle": "routing model confidence dropped",
                            "facts": [{"name": "system", "value": "billing"}],
                        }
                    ],
                },
            }
        ],
    )

    assert (await bot.post(post))[0] == 200

    await standin.wait_for(lambda: standin.messages(thread_of(post)))
    async with bot.runtime.store.transaction() as tx:
        [alert] = await tx.alerts.unresolved()
    assert alert.system == "billing-router"
    assert "routing model confidence dropped" in alert.text


async def test_a_rate_limited_post_waits_and_is_sent(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    standin.rate_limit = 2

    _, claim = await alert_claimed(bot, standin)

    assert [c.kind for c in standin.calls if c.kind in ("throttled", "send")] == [
        "throttled",
        "throttled",
        "send",
    ]
    assert "Claimed for" in card_text(card_of(claim))
    # the same policy as Slack's: every 429 is counted (adapters.ratelimit)
    counted = bot.runtime.metrics.registry.get_sample_value(
        "accountability_rate_limited_total", {"platform": "teams"}
    )
    assert counted == 2


async def test_storage_failure_is_not_acknowledged(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    async with bot.runtime.store.engine.begin() as conn:  # nothing can be recorded
        await conn.execute(text("DROP TABLE inbox_delivery"))

    status, body = await bot.post(
        channel_post(standin.service_url, "billing-router: error rate 12% above threshold")
    )

    assert status == 503
    assert "storage" in body["error"]
    assert standin.messages() == []


async def test_a_failing_command_is_answered_not_a_500(
    bot: RunningBot, standin: ConnectorStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot.runtime.store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE system_state"))

    with caplog.at_level(logging.ERROR, logger="adapters.teams.bot"):
        status, _ = await bot.post(personal(standin.service_url, BOB, "who-owns billing-router"))

    assert status == 200
    [reply] = standin.messages(personal_chat(BOB))
    assert "Something went wrong" in card_text(card_of(reply))
    [record] = [r for r in caplog.records if r.getMessage() == "teams command failed"]
    assert record.exc_info is not None  # the traceback is in the log, not in the answer
    assert "system_state" not in card_text(card_of(reply))


async def test_a_failing_click_is_answered_not_a_500(
    bot: RunningBot, standin: ConnectorStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    post, claim = await alert_claimed(bot, standin)
    async with bot.runtime.store.transaction() as tx:
        [alert] = await tx.alerts.unresolved()
    async with bot.runtime.store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE acknowledgement"))

    with caplog.at_level(logging.ERROR, logger="adapters.teams.bot"):
        status, answer = await bot.post(
            claim_click(standin, post, claim, ALICE, cards.ACK, alert.id)
        )
        # The same from a client without Universal Actions (Action.Submit): a message reply.
        fallback, _ = await bot.post(
            submit_click(
                standin.service_url,
                ALICE,
                action=cards.ACK,
                value=str(alert.id),
                card_id=str(claim.answer_id),
                conversation=thread_of(post),
            )
        )

    assert status == 200
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert answer["value"].startswith("Something went wrong")
    assert fallback == 200
    assert "Something went wrong" in card_text(card_of(standin.messages(thread_of(post))[-1]))
    assert standin.of("update") == []  # the claim stays as it was
    failures = [r for r in caplog.records if r.getMessage() == "teams click failed"]
    assert len(failures) == 2 and all(r.exc_info is not None for r in failures)


# ---- stop -------------------------------------------------------------------------------------


async def test_stop_by_the_holder_asks_then_runs(
    bot: RunningBot, standin: ConnectorStandIn, tmp_path: Path
) -> None:
    status, _ = await bot.post(
        personal(standin.service_url, CAROL, "stop billing-router routing to the wrong queue")
    )

    assert status == 200
    [confirm] = standin.messages(personal_chat(CAROL))
    card = card_of(confirm)
    assert "Confirm: stop billing-router?" in card_text(card)
    assert verbs(card) == [cards.STOP_CONFIRM, cards.STOP_CANCEL]
    assert not (tmp_path / "stopped.flag").exists()
    request_id = card["actions"][0]["data"]["value"]

    status, answer = await bot.post(
        card_click(
            standin.service_url,
            CAROL,
            verb=cards.STOP_CONFIRM,
            value=request_id,
            card_id=str(confirm.answer_id),
            conversation=personal_chat(CAROL),
            conversation_type="personal",
        )
    )

    assert status == 200
    assert (tmp_path / "stopped.flag").exists()
    shown = card_text(answer["value"])
    assert "billing-router stopped" in shown
    assert "billing-router was stopped by <at>Carol Diaz</at>" in shown
    [update] = standin.of("update", personal_chat(CAROL))
    assert update.activity_id == confirm.answer_id
    assert card_of(update) == answer["value"]
    [announced] = standin.messages(ALERTS)
    assert "billing-router stopped" in card_text(card_of(announced))
    actions = [a for a, _ in await audit_actions(bot)]
    assert actions == ["stop.requested", "stop.succeeded"]
    async with bot.runtime.store.transaction() as tx:
        assert (await tx.stops.status(system="billing-router")).stopped


async def test_stop_by_someone_else_is_refused_and_the_holder_told(
    bot: RunningBot, standin: ConnectorStandIn, tmp_path: Path
) -> None:
    status, _ = await bot.post(personal(standin.service_url, BOB, "stop billing-router now"))

    assert status == 200
    [refusal] = standin.messages(personal_chat(BOB))
    shown = card_text(card_of(refusal))
    assert "Refused: you do not hold stop authority for billing-router" in shown
    assert "Only <at>Carol Diaz</at> may stop billing-router" in shown
    assert verbs(card_of(refusal)) == []
    # Bob is known by the email Teams reports for his id (TeamsInfo.get_member).
    assert [c.activity_id for c in standin.of("member")] == [BOB.id]
    [carol_chat] = standin.personal_chats_with(CAROL)
    [told] = standin.messages(carol_chat)
    assert "Someone asked to stop billing-router" in card_text(card_of(told))
    assert "Bob Ruiz" in card_text(card_of(told))
    assert not (tmp_path / "stopped.flag").exists()
    refused = [(a, d) for a, d in await audit_actions(bot) if a == "stop.refused"]
    assert refused == [("stop.refused", {"user": BOB.aad, "reason": "now", "holder": "carol"})]


async def test_a_slow_stop_is_answered_at_once_and_replaces_the_card_when_done(
    tmp_path: Path, standin: ConnectorStandIn
) -> None:
    slow = REGISTRY.replace("import pathlib;", "import pathlib, time; time.sleep(0.5);", 1)
    async with running_bot(tmp_path, registry=slow, standin=standin) as bot:
        bot.app[TEAMS_BOT].invoke_patience = 0.05
        await bot.post(team_installed(standin.service_url, CAROL))
        await bot.post(personal(standin.service_url, CAROL, "stop billing-router"))
        [confirm] = standin.messages(personal_chat(CAROL))
        request_id = card_of(confirm)["actions"][0]["data"]["value"]

        status, answer = await bot.post(
            card_click(
                standin.service_url,
                CAROL,
                verb=cards.STOP_CONFIRM,
                value=request_id,
                card_id=str(confirm.answer_id),
                conversation=personal_chat(CAROL),
                conversation_type="personal",
            )
        )

        assert status == 200
        assert answer["type"] == "application/vnd.microsoft.activity.message"
        assert "Working on it" in answer["value"]
        assert not (tmp_path / "stopped.flag").exists()
        await standin.wait_for(lambda: standin.of("update", personal_chat(CAROL)))
        [update] = standin.of("update", personal_chat(CAROL))
        assert update.activity_id == confirm.answer_id
        assert "billing-router stopped" in card_text(card_of(update))
        assert (tmp_path / "stopped.flag").exists()


# ---- bad input ----------------------------------------------------------------------------------


async def test_malformed_activities_are_refused_with_4xx(
    bot: RunningBot, standin: ConnectorStandIn
) -> None:
    url = standin.service_url
    good = personal(url, BOB, "help")
    click = card_click(
        url, ALICE, verb=cards.ACK, value="1", card_id="1", conversation=f"{ALERTS};messageid=1"
    )
    broken: list[object] = [
        b"{not json",
        "[1, 2, 3]",
        "null",
        {},
        {**good, "type": 5},
        {k: v for k, v in good.items() if k != "serviceUrl"},
        {**good, "serviceUrl": "file:///etc/passwd"},
        {k: v for k, v in good.items() if k != "conversation"},
        {**good, "conversation": {"conversationType": "personal"}},
        {k: v for k, v in good.items() if k != "from"},
        {**good, "from": "bob"},
        {**good, "text": {"html": "who-owns"}},
        {**good, "entities": {"type": "mention"}},
        {**good, "attachments": 7},
        {**good, "channelData": {"tenant": "nope"}},
        {**good, "value": "not an object"},
        {**good, "value": {"action": cards.ACK, "value": {"id": 1}}},
        {k: v for k, v in click.items() if k != "value"},
        {**click, "value": {"action": "ack"}},
        {**click, "value": {"action": {"type": "Action.Submit", "verb": cards.ACK}}},
        {**click, "name": "task/fetch"},
    ]

    for body in broken:
        status, answer = await bot.post(body)
        assert 400 <= status < 500, (body, status, answer)

    async with bot.http.post(bot.url, data="who-owns", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    async with bot.http.get(bot.url) as r:
        assert r.status == 405
    assert standin.messages() == []
    async with bot.runtime.store.transaction() as tx:
        assert await tx.conversations.get(conversation_id=TEAM) is not None
        count = (await tx.session.execute(text("SELECT count(*) FROM teams_conversation"))).scalar()
    assert count == 1  # only the install: nothing of the broken activities was kept


# ---- the same flow on PostgreSQL ----------------------------------------------------------------


@pytest.mark.postgres
async def test_claim_escalation_and_acknowledgement_on_postgresql(
    tmp_path: Path, standin: ConnectorStandIn
) -> None:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        async with running_bot(tmp_path, database_url=url, standin=standin) as bot:
            assert bot.runtime.store.engine.dialect.name == "postgresql"
            await bot.post(team_installed(standin.service_url, CAROL))
            post, claim = await alert_claimed(bot, standin)
            bot.clock.advance(timedelta(minutes=11))
            assert len((await bot.runtime.service.tick()).sent) == 1
            assert len(standin.personal_chats_with(BOB)) == 1
            async with bot.runtime.store.transaction() as tx:
                [alert] = await tx.alerts.unresolved()
            status, answer = await bot.post(
                claim_click(standin, post, claim, ALICE, cards.ACK, alert.id)
            )
            assert status == 200
            assert "Acknowledged: held by <at>Alice Ng</at>" in card_text(answer["value"])
            bot.clock.advance(timedelta(hours=1))
            assert (await bot.runtime.service.tick()).sent == []
    finally:
        await drop_schema(schema)
