"""The weekly governance cadence through the service's entry points (`governance`, `click`,
`command`, `decision_timebox`) on the in-memory platform and a real store (SQLite and
PostgreSQL): one digest per steward per period, decisions by the steward only, pause and stop
handed to the stop flow, and the time box with a hand-moved clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from adapters.fake import InMemoryPlatform, ManualClock
from bot import cards
from bot.cards import Card
from bot.domain import UserRef
from bot.events import ButtonClicked, CommandGiven
from bot.evidence import verify_chain
from bot.registry import Registry, parse_registry
from bot.scorecard_views import DECIDE
from bot.service import AccountabilityService
from store.database import SqlStore
from tests.conftest import EXAMPLE

ALICE, BOB, CAROL, DANA = (
    UserRef("slack", u) for u in ("U0ALICE01", "U0BOB0002", "U0CAROL03", "U0DANA004")
)
PERIOD = "2026-11-02T08:00:00+00:00"
NEXT = "2026-11-09T08:00:00+00:00"


def digest_of(slack: InMemoryPlatform, user: UserRef) -> list[Card]:
    return [s.card for s in slack.directs_to(user.id) if s.card.title.startswith("Weekly gov")]


def decide(user: UserRef, decision: str, system: str, reason: str = "") -> ButtonClicked:
    return ButtonClicked(user=user, action=DECIDE, value=f"{decision}:{system}", text=reason)


async def entries(store: SqlStore, action: str) -> list[dict[str, object]]:
    async with store.transaction() as tx:
        found = await tx.evidence.entries()
    assert verify_chain(found) is None
    return [{"actor": e.actor, "system": e.system, **e.detail} for e in found if e.action == action]


async def test_each_steward_gets_one_digest_per_period_with_the_four_decisions(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    report = await service.governance(period=PERIOD)

    assert report.ran and report.delivered == {"carol": "slack"}
    (card,) = digest_of(slack, CAROL)
    text = card.plain_text()
    assert "billing-router (Billing ticket router)" in text
    assert "support-drafter (Support reply drafter)" in text
    assert [b.label for b in card.buttons][:4] == [
        "Continue billing-router",
        "Stabilize billing-router",
        "Pause billing-router",
        "Stop billing-router",
    ]
    assert {b.action for b in card.buttons} == {DECIDE} and len(card.buttons) == 8
    assert card.text_field is not None and card.text_field.max_length == 200
    assert [s.user for s in slack.posts("direct")] == [CAROL]  # only stewards get one

    again = await service.governance(period=PERIOD)
    assert not again.ran and len(slack.posts("direct")) == 1
    (sent,) = await entries(store, "governance.digest_sent")
    assert sent["to"] == "carol" and sent["systems"] == ["billing-router", "support-drafter"]


async def test_a_dry_run_says_who_would_get_which_digest_and_sends_nothing(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    report = await service.governance(period=PERIOD, dry_run=True)

    text = report.text(service.registry)
    assert "(dry run)" in text and "1 steward digest(s) would be sent." in text
    assert "--- to Carol Diaz (carol): billing-router, support-drafter ---" in text
    assert "[Continue billing-router] [Stabilize billing-router]" in text
    assert slack.posts() == []
    assert (await service.governance(period=PERIOD)).ran  # the dry run claimed nothing


async def test_the_steward_decides_once_with_a_reason_on_the_record(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore, clock: ManualClock
) -> None:
    await service.governance(period=PERIOD)
    clock.advance(timedelta(hours=2))

    reply = await service.click(decide(CAROL, "stabilize", "support-drafter", "drafts\nslow"))

    assert reply is not None and "Decision recorded: stabilize before scaling" in (
        reply.card.plain_text()
    )
    (decided,) = await entries(store, "governance.decided")
    assert decided["actor"] == "carol" and decided["system"] == "support-drafter"
    assert decided["decision"] == "stabilize" and decided["reason"] == "drafts"
    twice = await service.click(decide(CAROL, "continue", "support-drafter"))
    assert twice is not None and twice.card.title == "Already decided: support-drafter"
    assert "Carol Diaz decided stabilize" in twice.card.plain_text()
    assert len(await entries(store, "governance.decided")) == 1
    cards_now = await service.scorecards(
        systems=[service.registry.systems["support-drafter"]],
        now=clock.now(),
        length=timedelta(days=7),
    )
    assert cards_now[0].last_digest is not None
    assert cards_now[0].last_digest.decision == "stabilize"


async def test_anyone_but_the_steward_is_refused_told_who_can_and_recorded(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    await service.governance(period=PERIOD)

    for user in (ALICE, DANA, UserRef("slack", "U0MALLORY"), UserRef("slack", "U0NOBODY9")):
        reply = await service.click(decide(user, "stop", "billing-router"))
        assert reply is not None and reply.card.title == "Not yours to decide: billing-router"
        assert "Carol Diaz (steward)" in reply.card.plain_text()
        assert "after 24 h without a decision: Dana Wu" in reply.card.plain_text()

    refused = await entries(store, "governance.refused")
    assert [r["actor"] for r in refused] == ["alice", "dana", "slack:U0MALLORY", "slack:U0NOBODY9"]
    assert await entries(store, "governance.decided") == []
    assert await entries(store, "stop.requested") == []


async def test_bad_decision_values_are_answered_not_raised(service: AccountabilityService) -> None:
    await service.governance(period=PERIOD)
    for value in ("", "stop", "explode:billing-router", "stop:", "stop:no-such", "x" * 5000):
        reply = await service.click(ButtonClicked(user=CAROL, action=DECIDE, value=value))
        assert reply is not None and reply.card.title == "Unknown decision"


async def test_pause_by_a_steward_with_stop_authority_goes_on_to_the_stop_confirmation(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    await service.governance(period=PERIOD)

    reply = await service.click(decide(CAROL, "pause", "billing-router", "drift on urgent"))

    assert reply is not None and reply.card.title == "Confirm: stop billing-router?"
    assert "Decision recorded: pause for risk remediation" in reply.card.plain_text()
    assert [b.action for b in reply.card.buttons] == [cards.STOP_CONFIRM, cards.STOP_CANCEL]
    (requested,) = await entries(store, "stop.requested")
    assert requested["reason"] == "governance decision: pause: drift on urgent"
    assert (await entries(store, "governance.decided"))[0]["decision"] == "pause"


async def test_stop_by_a_steward_without_stop_authority_tells_the_holder_with_the_reason(
    registry: Registry,
    make_service: Callable[..., AccountabilityService],
    slack: InMemoryPlatform,
    store: SqlStore,
) -> None:
    text = EXAMPLE.read_text().replace("stop_authority: carol ", "stop_authority: bob ")
    service = make_service(registry=parse_registry(text, source="bob-holds.yaml"))
    assert service.registry.systems["billing-router"].stop_authority == "bob"
    await service.governance(period=PERIOD)

    reply = await service.click(decide(CAROL, "stop", "billing-router", "wrong queue for VIPs"))

    assert reply is not None
    assert "Bob Ruiz holds stop authority for billing-router and was told" in (
        reply.card.plain_text()
    )
    (told,) = [s.card for s in slack.directs_to(BOB.id)]
    assert told.title == "Carol Diaz decided: stop billing-router"
    assert "wrong queue for VIPs" in told.plain_text()
    (entry,) = await entries(store, "governance.holder_told")
    assert entry["holder"] == "bob" and entry["platform"] == "slack"
    assert await entries(store, "stop.requested") == []


async def test_an_undecided_digest_goes_up_once_after_its_time_box(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore, clock: ManualClock
) -> None:
    await service.governance(period=PERIOD)
    clock.advance(timedelta(hours=23, minutes=59))
    assert await service.decision_timebox() == []
    early = await service.click(decide(DANA, "continue", "billing-router"))
    assert early is not None and early.card.title.startswith("Not yours")

    clock.advance(timedelta(minutes=1))  # billing-router's own time box: 24 h
    (escalated,) = await service.decision_timebox()
    assert (escalated.system, escalated.to, escalated.delivered) == (
        "billing-router",
        ("dana",),
        ("dana",),
    )
    (card,) = [s.card for s in slack.directs_to(DANA.id)]
    assert card.title == "No decision on billing-router: you decide"
    assert [b.value for b in card.buttons] == [
        f"{d}:billing-router" for d in ("continue", "stabilize", "pause", "stop")
    ]
    assert await service.decision_timebox() == []  # once

    clock.advance(timedelta(hours=24))  # support-drafter: the default 48 h
    assert [e.system for e in await service.decision_timebox()] == ["support-drafter"]
    assert len(await entries(store, "governance.escalated")) == 2

    reply = await service.click(decide(DANA, "continue", "billing-router", "carol is away"))
    assert reply is not None and "Decision recorded" in reply.card.plain_text()
    assert (await entries(store, "governance.decided"))[0]["actor"] == "dana"

    clock.set(clock.now().replace(day=9, hour=8, minute=0))
    await service.governance(period=NEXT)
    latest = digest_of(slack, CAROL)[-1].plain_text()
    assert "No decision was made on the last digest for support-drafter." in latest
    assert "No decision was made on the last digest for billing-router." not in latest


async def test_who_decides_answers_from_the_registry_and_who_owns_shows_it(
    service: AccountabilityService,
) -> None:
    reply = await service.command(
        CommandGiven(user=ALICE, command="who-decides", args="billing-router")
    )
    text = reply.card.plain_text()
    assert reply.card.title == "Who decides on billing-router"
    assert "Weekly decision: Carol Diaz (steward); after 24 h without a decision: Dana Wu." in text
    assert (
        "rollout_gate: recommends Bob Ruiz, approves Carol Diaz, executes Bob Ruiz;"
        " informed: Alice Ng, Dana Wu." in text
    )
    assert "model_change: recommends Bob Ruiz" in text  # from the defaults

    one = await service.command(
        CommandGiven(user=ALICE, command="who-decides", args="billing-router policy_exception")
    )
    assert one.card.title == "Who decides on billing-router: policy_exception"
    assert "policy_exception: recommends Alice Ng" in one.card.plain_text()
    assert "rollout_gate" not in one.card.plain_text()
    none = await service.command(
        CommandGiven(user=ALICE, command="who-decides", args="support-drafter rollout_gate")
    )
    assert "rollout_gate: nobody is named in the registry." in none.card.plain_text()
    unknown = await service.command(CommandGiven(user=ALICE, command="who-decides", args="biling"))
    assert "Did you mean: billing-router?" in unknown.card.plain_text()
    bare = await service.command(CommandGiven(user=ALICE, command="who-decides"))
    assert bare.card.title == "Which system?"

    owns = await service.who_owns(service.registry.systems["support-drafter"], platform="slack")
    assert "Undecided categories (nobody named): policy_exception, rollout_gate." in (
        owns.plain_text()
    )


async def test_a_digest_a_platform_failure_left_undelivered_is_sent_later_once(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore, clock: ManualClock
) -> None:
    slack.users[CAROL.id].reachable = False
    report = await service.governance(period=PERIOD)
    assert report.undelivered == ["carol"] and digest_of(slack, CAROL) == []
    (failed,) = await entries(store, "governance.digest_undelivered")
    assert failed["systems"] == ["billing-router", "support-drafter"]

    clock.advance(timedelta(minutes=1))
    assert await service.retry_digests() == []  # still unreachable: tried, kept for later
    assert len(await entries(store, "governance.digest_undelivered")) == 1

    slack.users[CAROL.id].reachable = True
    clock.advance(timedelta(minutes=1))
    (sent,) = await service.retry_digests()
    assert sent.steward == "carol" and sent.systems == ("billing-router", "support-drafter")
    (card,) = digest_of(slack, CAROL)
    assert len(card.buttons) == 8 and card.text_field is not None
    assert await service.retry_digests() == []
    assert len(digest_of(slack, CAROL)) == 1
    (entry,) = await entries(store, "governance.digest_sent")
    assert entry["platform"] == "slack"


async def test_an_undelivered_digest_stops_being_retried_once_escalated(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock
) -> None:
    slack.users[CAROL.id].reachable = False
    await service.governance(period=PERIOD)
    clock.advance(timedelta(hours=48))
    assert len(await service.decision_timebox()) == 2  # dana decides in carol's place
    slack.users[CAROL.id].reachable = True
    assert await service.retry_digests() == []
    assert digest_of(slack, CAROL) == []
