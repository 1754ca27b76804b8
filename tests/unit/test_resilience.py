"""What happens when the platform or a worker fails part-way: nothing is lost, nothing is
sent twice, nothing is done in someone's name that they did not do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import text

from adapters.fake import InMemoryPlatform, ManualClock, deliver
from bot import cards
from bot.domain import AlertState, MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked, CommandGiven
from bot.registry import parse_registry
from bot.service import AccountabilityService
from store.database import SqlStore
from tests.conftest import EXAMPLE

ALICE, BOB, CAROL, MALLORY = (
    UserRef("slack", u) for u in ("U0ALICE01", "U0BOB0002", "U0CAROL03", "U0MALLORY")
)
NO_STATIC_IDS = parse_registry(
    "\n".join(
        line for line in EXAMPLE.read_text().splitlines() if not line.strip().startswith("slack: U")
    ),
    source="emails-only.yaml",
)


def alert(
    text: str, *, event: str = "Ev1", ts: str = "1.0", author: UserRef | None = None
) -> AlertSeen:
    return AlertSeen(
        platform="slack",
        channel="C0ALERTS1",
        text=text,
        event_id=event,
        message=MessageRef("slack", "C0ALERTS1", ts),
        author=author,
    )


async def test_a_failed_user_lookup_retries_the_step_instead_of_losing_it(
    make_service: Callable[..., AccountabilityService],
    slack: InMemoryPlatform,
    clock: ManualClock,
) -> None:
    service = make_service(registry=NO_STATIC_IDS)
    await deliver(service, alert("billing-router down"))
    clock.advance(timedelta(minutes=10))
    service.use_registry(NO_STATIC_IDS)  # a reload (or restart) empties the lookup cache
    slack.fail_lookups = 1  # Slack answers 429 to users.lookupByEmail once
    report = await service.tick()
    assert report.sent == [] and slack.directs_to("U0BOB0002") == []
    clock.advance(timedelta(seconds=31))  # the lease lapses
    assert len((await service.tick()).sent) == 1
    assert len(slack.directs_to("U0BOB0002")) == 1


async def test_a_recovered_step_does_not_hide_a_new_one_for_the_same_person(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock, store: SqlStore
) -> None:
    await deliver(service, alert("billing-router first problem"))
    clock.advance(timedelta(minutes=10))
    async with store.transaction() as tx:  # a worker sends step 1 to Bob, then dies
        (step,) = await tx.steps.take_due(
            now=clock.now(), lease=timedelta(seconds=30), worker="dead", limit=5
        )
        await tx.steps.mark_direct(marks=[(step, "D-earlier")])
    await deliver(service, alert("billing-router second problem", event="Ev2", ts="2.0"))
    clock.advance(timedelta(minutes=10))  # the lease lapsed; the second alert's step is due
    report = await service.tick()
    assert len(report.sent) == 2
    (dm,) = slack.directs_to("U0BOB0002")  # only the new step: the old one was sent already
    assert "second problem" in dm.card.title


async def test_a_person_saying_resolved_resolves_only_what_they_may_act_on(
    service: AccountabilityService, store: SqlStore
) -> None:
    taken = await deliver(service, alert("[FIRING] billing-router HighLatency"))
    assert taken.alert is not None
    stranger = await deliver(
        service, alert("RESOLVED billing-router HighLatency", event="Ev2", ts="2.0", author=MALLORY)
    )
    assert stranger.outcome == "ignored"
    async with store.transaction() as tx:
        stored = await tx.alerts.get(alert_id=taken.alert.id)
    assert stored is not None and stored.state == AlertState.OPEN

    done = await deliver(
        service, alert("RESOLVED billing-router HighLatency", event="Ev3", ts="3.0", author=ALICE)
    )
    assert done.outcome == "resolved" and done.alert is not None
    assert done.alert.resolved_by == "alice"  # on the record as Alice, not the monitor


async def test_an_email_match_never_overrides_a_registry_id(
    service: AccountabilityService, slack: InMemoryPlatform
) -> None:
    # Someone whose Slack profile carries Carol's email, but who is not Carol's Slack id.
    slack.add_user("U0IMPOSTR", "carol@example.com")
    reply = await service.command(
        CommandGiven(user=UserRef("slack", "U0IMPOSTR"), command="stop", args="billing-router")
    )
    assert reply.card.title.startswith("Refused")


async def test_a_stop_confirmation_expires(
    service: AccountabilityService, clock: ManualClock, store: SqlStore
) -> None:
    reply = await service.command(CommandGiven(user=CAROL, command="stop", args="billing-router"))
    clock.advance(timedelta(minutes=16))
    done = await service.click(
        ButtonClicked(user=CAROL, action=cards.STOP_CONFIRM, value=reply.card.buttons[0].value)
    )
    assert done is not None and done.card.title == "Expired: stop billing-router"
    async with store.transaction() as tx:
        assert [e.action for e in await tx.evidence.entries()] == ["stop.requested", "stop.expired"]


async def test_a_stop_left_running_by_a_dead_worker_is_failed_on_the_record(
    service: AccountabilityService, clock: ManualClock, store: SqlStore
) -> None:
    reply = await service.command(CommandGiven(user=CAROL, command="stop", args="billing-router"))
    request_id = int(reply.card.buttons[0].value)
    async with store.transaction() as tx:  # confirmed, then the worker died mid-action
        assert await tx.stops.move_request(
            request_id=request_id, from_state="requested", to_state="running", at=clock.now()
        )
    clock.advance(timedelta(hours=2))
    await service.tick()
    async with store.transaction() as tx:
        request = await tx.stops.get_request(request_id=request_id)
        last = (await tx.evidence.entries())[-1]
    assert request is not None and request.state == "failed"
    assert (last.action, last.actor) == ("stop.failed", "accountability-bot")


async def test_a_claim_that_cannot_be_updated_is_given_up_after_three_tries(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock
) -> None:
    await deliver(service, alert("billing-router flapping"))
    await deliver(service, alert("billing-router flapping", event="Ev2", ts="2.0"))
    slack.fail_updates = 10  # the claim message was deleted
    for _ in range(5):
        await service.tick()
        clock.advance(timedelta(seconds=3))
    assert slack.fail_updates == 7  # three attempts, then no more


async def test_a_claim_is_recorded_once_even_if_posted_twice(
    service: AccountabilityService, store: SqlStore
) -> None:
    taken = await service.take_alert(alert("billing-router down"))
    assert taken.alert is not None
    async with store.transaction() as tx:
        first = MessageRef("slack", "C0ALERTS1", "10.0")
        assert await tx.alerts.set_claim(alert_id=taken.alert.id, message=first)
        assert not await tx.alerts.set_claim(
            alert_id=taken.alert.id, message=MessageRef("slack", "C0ALERTS1", "11.0")
        )
        stored = await tx.alerts.get(alert_id=taken.alert.id)
    assert stored is not None and stored.claim == first


async def test_delivery_ids_are_forgotten_after_two_days(
    service: AccountabilityService, clock: ManualClock, store: SqlStore
) -> None:
    await service.take_alert(alert("billing-router down"))
    clock.advance(timedelta(days=3))
    await service.tick()
    async with store.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM seen_event")) == 0
