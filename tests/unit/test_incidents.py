"""Incident review end to end through the core's entry points (deliver, click, command, the
follow-up chase) on the in-memory platform and a real store: the resolve form submitted,
skipped and refused; follow-ups chased once and closed by their owner; the review after a
registry change naming the owner then; the CLI on a constructed history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from adapters import cli
from adapters.fake import InMemoryPlatform, ManualClock, deliver
from bot import cards
from bot.domain import MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked, CommandGiven
from bot.registry import Registry, parse_registry
from bot.review_views import review_json
from bot.service import AccountabilityService
from store.database import SqlStore
from tests.conftest import EXAMPLE

ALICE, BOB, CAROL, MALLORY = (
    UserRef("slack", u) for u in ("U0ALICE01", "U0BOB0002", "U0CAROL03", "U0MALLORY")
)


def alert(
    text: str = "[FIRING:1] billing-router p99 latency 2.3s", *, event: str = "Ev1"
) -> AlertSeen:
    return AlertSeen(
        platform="slack",
        channel="C0ALERTS1",
        text=text,
        event_id=event,
        message=MessageRef("slack", "C0ALERTS1", "1700000000.000100"),
    )


def click(user: UserRef, action: str, value: int | str, **fields: str) -> ButtonClicked:
    return ButtonClicked(user=user, action=action, value=str(value), fields=fields)


async def resolved(service: AccountabilityService) -> int:
    taken = await deliver(service, alert())
    assert taken.alert is not None
    reply = await service.click(click(ALICE, cards.ACK, taken.alert.id))
    assert reply is None
    reply = await service.click(click(ALICE, cards.RESOLVE, taken.alert.id))
    assert reply is not None and reply.form is not None  # offered at once to the resolver
    assert reply.form.value == str(taken.alert.id)
    owner = next(f for f in reply.form.fields if f.name == "owner")
    assert owner.initial == "bob"  # the learning owner by default
    return taken.alert.id


async def actions(store: SqlStore) -> list[str]:
    async with store.transaction() as tx:
        return [e.action for e in await tx.evidence.entries()]


def changed_owner(registry: Registry) -> Registry:
    text = registry.source_text.replace(
        "    operator: alice\n    maintainer: bob\n    steward: carol\n    stop_authority: carol",
        "    operator: dana\n    maintainer: bob\n    steward: carol\n    stop_authority: carol",
        1,
    )
    assert text != registry.source_text
    return parse_registry(text, source="ownership.yaml (changed)")


async def test_submitted_form_answers_five_six_and_seven_with_evidence(
    service: AccountabilityService, store: SqlStore, clock: ManualClock
) -> None:
    await service.remember_registry()
    alert_id = await resolved(service)
    due = (clock.now() + timedelta(days=3)).date().isoformat()
    reply = await service.click(
        click(
            ALICE,
            cards.FORM_SUBMIT,
            alert_id,
            failure_class="bad_exception_threshold",
            why_passed="the latency alert\nfired only after 15 minutes",
            follow_up="lower the p99 threshold to 1.5 s",
            owner="bob",
            due=due,
        )
    )
    assert reply is not None and reply.replace_original
    text = reply.card.plain_text()
    assert "bad exception threshold" in text and "owner Bob Ruiz" in text
    assert "review.form_recorded" in await actions(store)
    found = await service.review(alert_id=alert_id)
    assert found is not None
    answers = {a.number: a for a in found.answers}
    assert answers[5].text == "the latency alert fired only after 15 minutes"  # one line
    assert answers[6].text == "bad exception threshold" and answers[6].answered
    assert "lower the p99 threshold" in answers[7].text and "Bob Ruiz" in answers[7].text
    assert found.answered == 7 and found.missing == ()
    # a second answer changes nothing
    again = await service.click(click(BOB, cards.FORM_SKIP, alert_id))
    assert again is not None and "Already answered" in again.card.title


async def test_skipping_is_recorded_as_not_recorded(
    service: AccountabilityService, store: SqlStore
) -> None:
    alert_id = await resolved(service)
    reply = await service.click(click(ALICE, cards.FORM_SKIP, alert_id))
    assert reply is not None and "Skipped" in reply.card.title
    assert "review.form_skipped" in await actions(store)
    found = await service.review(alert_id=alert_id)
    assert found is not None
    assert {5, 6, 7} <= set(found.missing)
    assert "skipped the resolve form" in found.answers[4].text


async def test_people_outside_ack_by_are_refused_and_it_is_recorded(
    service: AccountabilityService, store: SqlStore
) -> None:
    alert_id = await resolved(service)
    for action in (cards.FORM_SUBMIT, cards.FORM_SKIP, cards.FORM_OPEN):
        reply = await service.click(click(MALLORY, action, alert_id, why_passed="mine"))
        assert reply is not None and "Not yours" in reply.card.title and reply.form is None
    logged = await actions(store)
    assert logged.count("review.form_refused") == 3
    assert "review.form_recorded" not in logged and "review.form_skipped" not in logged


async def test_bad_answers_are_refused_with_the_form_again(service: AccountabilityService) -> None:
    alert_id = await resolved(service)
    reply = await service.click(
        click(ALICE, cards.FORM_SUBMIT, alert_id, failure_class="cosmic_rays",
              follow_up="x", owner="nobody-known", due="31/12/2026")
    )  # fmt: skip
    assert reply is not None and reply.form is not None
    text = reply.card.plain_text()
    assert "Unknown failure class" in text and "not in the registry" in text
    assert "YYYY-MM-DD" in text
    found = await service.review(alert_id=alert_id)
    assert found is not None and 5 in found.missing  # nothing recorded


async def test_review_after_a_registry_change_names_the_owner_then(
    service: AccountabilityService, registry: Registry
) -> None:
    await service.remember_registry()
    alert_id = await resolved(service)
    changed = changed_owner(registry)
    await service.remember_registry(changed)
    service.use_registry(changed)
    found = await service.review(alert_id=alert_id)
    assert found is not None
    assert "Alice Ng was the operator" in found.answers[0].text
    assert found.version_then == registry.version and found.version_now == changed.version
    assert "operator: Alice Ng then, Dana Wu now" in found.changed_since
    data = review_json(found)
    assert data["registry_version_then"] == registry.version
    assert [a["number"] for a in data["answers"]] == [1, 2, 3, 4, 5, 6, 7]


async def test_review_command_and_button(service: AccountabilityService) -> None:
    alert_id = await resolved(service)
    for args in (str(alert_id), f"#{alert_id}", "billing-router"):
        reply = await service.command(CommandGiven(user=BOB, command="review", args=args))
        assert reply.card.title.startswith(f"Review of alert #{alert_id}")
        assert reply.card.action_ids() == (cards.FORM_OPEN,)  # the form is still missing
    button = await service.click(click(BOB, cards.REVIEW, alert_id))
    assert button is not None and "of 7 answered" in button.card.plain_text()
    unknown = await service.command(CommandGiven(user=BOB, command="review", args="biling-router"))
    assert "Did you mean: billing-router?" in unknown.card.plain_text()
    none = await service.command(CommandGiven(user=BOB, command="review", args="support-drafter"))
    assert "No resolved alert" in none.card.title
    gone = await service.command(CommandGiven(user=BOB, command="review", args="999"))
    assert "Unknown alert" in gone.card.title


async def test_follow_ups_are_chased_once_then_the_steward_then_done_by_their_owner(
    make_service: Callable[..., AccountabilityService],
    slack: InMemoryPlatform,
    store: SqlStore,
    clock: ManualClock,
) -> None:
    one, two = make_service(worker="one"), make_service(worker="two")  # two replicas
    alert_id = await resolved(one)
    due = (clock.now() + timedelta(days=2)).date().isoformat()
    await one.click(
        click(ALICE, cards.FORM_SUBMIT, alert_id, follow_up="add a canary", owner="bob", due=due)
    )
    who = await one.who_owns(one.registry.systems["billing-router"], platform="slack")
    assert "Open follow-up #1: add a canary (owner Bob Ruiz" in who.plain_text()
    assert await one.chase_follow_ups() == (0, 0)  # not due yet
    clock.advance(timedelta(days=3))
    results = [await one.chase_follow_ups(), await two.chase_follow_ups()]
    assert sorted(results) == [(0, 0), (1, 0)]  # one reminder across the replicas
    [reminder] = slack.directs_to(BOB.id)[-1:]
    assert reminder.card.action_ids() == (cards.FOLLOW_UP_DONE,)
    assert "A follow-up of yours is due" in reminder.card.title
    clock.advance(timedelta(days=1))
    assert [await two.chase_follow_ups(), await one.chase_follow_ups()] == [(0, 1), (0, 0)]
    assert "Overdue follow-up owned by Bob Ruiz" in slack.directs_to(CAROL.id)[-1].card.title
    refused = await one.click(click(ALICE, cards.FOLLOW_UP_DONE, 1))
    assert refused is not None and "Not yours" in refused.card.title
    done = await one.click(click(BOB, cards.FOLLOW_UP_DONE, 1))
    assert done is not None and "Done: follow-up #1" in done.card.title
    who = await one.who_owns(one.registry.systems["billing-router"], platform="slack")
    assert "Open follow-up" not in who.plain_text()
    found = await one.review(alert_id=alert_id)
    assert found is not None and "done" in found.answers[6].text
    logged = await actions(store)
    for action in ("follow_up.reminded", "follow_up.escalated", "follow_up.done"):
        assert logged.count(action) == 1
    assert logged.count("follow_up.done_refused") == 1


async def test_a_resolve_message_offers_the_form_by_direct_message(
    service: AccountabilityService, slack: InMemoryPlatform
) -> None:
    taken = await deliver(service, alert())
    assert taken.alert is not None
    message = AlertSeen(
        platform="slack",
        channel="C0ALERTS1",
        text="RESOLVED billing-router p99 latency 2.3s",
        event_id="Ev2",
        message=MessageRef("slack", "C0ALERTS1", "1700000000.000200"),
        author=ALICE,
    )
    done = await deliver(service, message)
    assert done.outcome == "resolved"
    offer = slack.directs_to(ALICE.id)[-1]
    assert offer.card.action_ids() == (cards.FORM_OPEN, cards.FORM_SKIP)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_cli_review_markdown_and_json(
    store: SqlStore,
    make_service: Callable[..., AccountabilityService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = make_service()
    await service.remember_registry()
    alert_id = await resolved(service)
    await service.click(
        click(ALICE, cards.FORM_SUBMIT, alert_id, failure_class="bad_prompt", why_passed="x")
    )
    monkeypatch.setenv("OWNERSHIP_FILE", str(EXAMPLE))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    await store.close()
    assert await _run(["review", str(alert_id)]) == 0
    md = capsys.readouterr().out
    assert md.startswith(f"# Incident review: alert #{alert_id} (billing-router)")
    assert "bad prompt" in md and "Route each inbound billing ticket" in md
    assert await _run(["review", str(alert_id), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == 1 and data["alert"]["id"] == alert_id
    assert set(data) >= {"answered", "missing", "answers", "links", "timeline"}
    assert await _run(["review", "999"]) == 1
    assert await _run(["review", "abc"]) == 2


async def _run(argv: list[str]) -> int:
    """The CLI runs its own event loop: run it in a thread from this test's loop."""
    import asyncio

    return await asyncio.to_thread(cli.main, argv)
