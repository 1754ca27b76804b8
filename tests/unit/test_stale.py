"""The stale-ownership scan through the in-memory platform and a real store (SQLite and
PostgreSQL): who is told what, one digest per person per run, Confirm and Hand off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from adapters.fake import InMemoryPlatform, ManualClock, deliver
from bot import cards, stale
from bot.cards import Button
from bot.domain import MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked
from bot.registry import Registry, parse_registry
from bot.service import AccountabilityService
from store.database import SqlStore
from tests.conftest import EXAMPLE

ALICE, BOB, CAROL, DANA, MALLORY = (
    UserRef("slack", u) for u in ("U0ALICE01", "U0BOB0002", "U0CAROL03", "U0DANA004", "U0MALLORY")
)
PERIOD = "2026-11-02T09:00:00+00:00"
NEXT_PERIOD = "2026-11-09T09:00:00+00:00"


def alert(text: str, *, event: str, channel: str = "C0ALERTS1") -> AlertSeen:
    return AlertSeen(
        platform="slack",
        channel=channel,
        text=text,
        event_id=event,
        message=MessageRef("slack", channel, f"17000000{event}.0001"),
    )


def digests(slack: InMemoryPlatform) -> dict[str, list[str]]:
    """User id -> plain text of each digest they were sent."""
    found: dict[str, list[str]] = {}
    for sent in slack.posts("direct"):
        if sent.card.title.startswith("Ownership check") and sent.user:
            found.setdefault(sent.user.id, []).append(sent.card.plain_text())
    return found


def buttons_to(slack: InMemoryPlatform, user: UserRef) -> list[Button]:
    (digest,) = [s for s in slack.directs_to(user.id) if s.card.title.startswith("Ownership check")]
    return list(digest.card.buttons)


async def audit_actions(store: SqlStore) -> list[str]:
    async with store.transaction() as tx:
        return [e.action for e in await tx.evidence.entries()]


async def test_first_scan_asks_every_holder_once_to_confirm_their_roles(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    report = await service.stale_scan(period=PERIOD)

    assert report.ran
    sent = digests(slack)
    assert sorted(sent) == [ALICE.id, BOB.id, CAROL.id]  # dana holds no role: nothing to say
    assert all(len(texts) == 1 for texts in sent.values())
    assert "operator of billing-router: never confirmed" in sent[ALICE.id][0]
    assert "maintainer of support-drafter: never confirmed" in sent[ALICE.id][0]
    labels = [b.label for b in buttons_to(slack, ALICE)]
    assert labels == [
        "Still mine: billing-router operator",
        "Hand off: billing-router operator",
        "Still mine: support-drafter maintainer",
        "Hand off: support-drafter maintainer",
    ]
    confirm, hand_off = buttons_to(slack, ALICE)[:2]
    assert (confirm.action, confirm.value) == (cards.ROLE_CONFIRM, "billing-router:operator")
    assert (hand_off.action, hand_off.picks_user) == (cards.ROLE_HAND_OFF, True)
    assert report.delivered == {"alice": "slack", "bob": "slack", "carol": "slack"}
    assert (await audit_actions(store)).count("stale.digest_sent") == 3


async def test_a_period_runs_once_and_a_dry_run_sends_nothing(
    service: AccountabilityService, slack: InMemoryPlatform
) -> None:
    preview = await service.stale_scan(period=PERIOD, dry_run=True)
    assert [d.person for d in preview.digests] == ["alice", "bob", "carol"]
    assert slack.sent == []
    assert "3 digest(s) would be sent." in preview.text(service.registry)
    assert "--- to Carol Diaz (carol) ---" in preview.text(service.registry)

    first = await service.stale_scan(period=PERIOD)
    again = await service.stale_scan(period=PERIOD)

    assert first.ran and not again.ran
    assert again.summary() == f"period {PERIOD} already run by another replica"
    assert sum(len(t) for t in digests(slack).values()) == 3


async def test_deactivated_holder_is_reported_to_the_steward(
    service: AccountabilityService, slack: InMemoryPlatform
) -> None:
    slack.users[ALICE.id].active = False

    await service.stale_scan(period=PERIOD)

    sent = digests(slack)
    assert ALICE.id not in sent  # a deactivated account is not asked to confirm anything
    (carol,) = sent[CAROL.id]
    assert "Alice Ng, operator of billing-router, is deactivated on slack" in carol
    assert "Alice Ng, maintainer of support-drafter, is deactivated on slack" in carol
    assert "steward of billing-router: never confirmed" in carol  # her own roles, same digest
    hand_offs = [b.value for b in buttons_to(slack, CAROL) if b.action == cards.ROLE_HAND_OFF]
    assert {"billing-router:operator", "support-drafter:maintainer"} <= set(hand_offs)
    assert DANA.id not in sent  # the steward can act; the admins are not bothered


async def test_orphaned_steward_goes_to_the_registry_admins(
    service: AccountabilityService, slack: InMemoryPlatform
) -> None:
    slack.users[CAROL.id].active = False

    await service.stale_scan(period=PERIOD)

    sent = digests(slack)
    assert CAROL.id not in sent
    (dana,) = sent[DANA.id]
    assert "Carol Diaz, steward of billing-router, is deactivated on slack" in dana
    assert "Carol Diaz, stop authority of support-drafter, is deactivated on slack" in dana
    assert "never confirmed" not in dana  # other people's confirmations are theirs to give
    assert len(sent[ALICE.id]) == 1 and len(sent[BOB.id]) == 1


async def test_holder_unknown_on_the_platform_is_reported_to_the_steward(
    make_service: Callable[..., AccountabilityService], slack: InMemoryPlatform
) -> None:
    text = EXAMPLE.read_text().replace(
        "    email: bob@example.com\n    slack: U0BOB0002\n", "    email: bob@left.example\n"
    )
    service = make_service(registry=parse_registry(text, source="edited.yaml"))

    report = await service.stale_scan(period=PERIOD)

    (carol,) = digests(slack)[CAROL.id]
    assert "Bob Ruiz, maintainer of billing-router, is not found on slack" in carol
    assert "Bob Ruiz, operator of support-drafter, is not found on slack" in carol
    assert "bob" not in report.delivered


async def test_confirmation_is_recorded_shown_in_who_owns_and_lasts_its_review_period(
    service: AccountabilityService,
    slack: InMemoryPlatform,
    store: SqlStore,
    clock: ManualClock,
    registry: Registry,
) -> None:
    await service.stale_scan(period=PERIOD)
    confirm = next(b for b in buttons_to(slack, BOB) if b.value == "billing-router:maintainer")
    clock.advance(timedelta(minutes=5))

    reply = await service.click(ButtonClicked(user=BOB, action=confirm.action, value=confirm.value))

    assert reply is not None and reply.card.title == "Confirmed"
    async with store.transaction() as tx:
        stored = await tx.ownership.confirmations(system="billing-router")
    assert stored["maintainer"] == ("bob", clock.now())
    system = registry.system("billing-router")
    assert system is not None
    card = (await service.who_owns(system, platform="slack")).plain_text()
    assert "Ownership last confirmed 2026-11-02 09:05 UTC." in card
    assert "maintainer never confirmed" not in card
    assert "operator never confirmed" in card
    assert "role.confirmed" in await audit_actions(store)

    clock.advance(timedelta(days=7))
    slack.sent.clear()
    await service.stale_scan(period=NEXT_PERIOD)
    (bob,) = digests(slack)[BOB.id]
    assert "maintainer of billing-router" not in bob
    assert "operator of support-drafter: never confirmed" in bob

    clock.advance(timedelta(days=30))  # billing-router reviews every 30 days
    slack.sent.clear()
    await service.stale_scan(period="2026-12-14T09:00:00+00:00")
    (bob,) = digests(slack)[BOB.id]
    assert (
        "maintainer of billing-router: last confirmed 2026-11-02 09:05 UTC, review every 30d" in bob
    )


async def test_only_the_holder_may_confirm_a_role(service: AccountabilityService) -> None:
    reply = await service.click(
        ButtonClicked(user=ALICE, action=cards.ROLE_CONFIRM, value="billing-router:maintainer")
    )
    assert reply is not None and reply.card.title == "Not your role"
    assert "Bob Ruiz holds maintainer of billing-router" in reply.card.plain_text()


async def test_alert_unacknowledged_after_its_last_step_goes_to_the_steward(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock
) -> None:
    stuck = await deliver(service, alert("billing-router p99 latency", event="1"))
    fine = await deliver(service, alert("support-drafter timeouts", event="2"))
    assert stuck.alert and fine.alert
    await service.click(ButtonClicked(user=BOB, action=cards.ACK, value=str(fine.alert.id)))
    for delay in (timedelta(minutes=11), timedelta(minutes=20), timedelta(hours=48)):
        clock.advance(delay)
        await service.tick()
    slack.sent.clear()

    await service.stale_scan(period=PERIOD)

    (carol,) = digests(slack)[CAROL.id]
    assert f"billing-router: alert #{stuck.alert.id} 'billing-router p99 latency'" in carol
    assert "unacknowledged after its last escalation step" in carol
    assert "support-drafter timeouts" not in carol


async def test_unowned_alerts_since_the_last_run_go_to_the_admins(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock
) -> None:
    await deliver(service, alert("disk full on batch-7", event="1"))
    clock.advance(timedelta(minutes=1))
    await service.stale_scan(period=PERIOD)
    (first,) = digests(slack)[DANA.id]
    assert "'disk full on batch-7'" in first
    assert "matched no system, held by fallback Dana Wu" in first

    clock.advance(timedelta(days=3))
    await deliver(service, alert("queue depth high on etl", event="2"))
    clock.advance(timedelta(days=4))
    slack.sent.clear()
    await service.stale_scan(period=NEXT_PERIOD)

    (second,) = digests(slack)[DANA.id]
    assert "'queue depth high on etl'" in second
    assert "disk full" not in second  # reported last run


async def test_unreachable_person_is_recorded_as_undelivered(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    slack.users[BOB.id].reachable = False

    report = await service.stale_scan(period=PERIOD)

    assert report.undelivered == ["bob"]
    assert BOB.id not in digests(slack)
    async with store.transaction() as tx:
        entries = [e for e in await tx.evidence.entries() if e.action.startswith("stale.")]
    undelivered = [e for e in entries if e.action == "stale.digest_undelivered"]
    assert [e.detail["to"] for e in undelivered] == ["bob"]


async def test_hand_off_of_a_role_is_recorded_and_the_admins_are_asked_to_edit_the_registry(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    reply = await service.click(
        ButtonClicked(
            user=CAROL, action=cards.ROLE_HAND_OFF, value="billing-router:operator", target=BOB
        )
    )

    assert reply is not None and reply.card.title == "Hand-off recorded"
    assert "`systems.billing-router.operator: bob`" in reply.card.plain_text()
    assert "Alice Ng still holds it" in reply.card.plain_text()
    (to_bob,) = slack.directs_to(BOB.id)
    assert to_bob.card.title == "You are asked to take over operator of billing-router"
    (to_dana,) = slack.directs_to(DANA.id)
    assert to_dana.card.title == "Registry change needed: systems.billing-router.operator"
    async with store.transaction() as tx:
        (entry,) = [e for e in await tx.evidence.entries() if e.action == "role.handoff_requested"]
    assert (entry.actor, entry.detail["from"], entry.detail["to"]) == ("carol", "alice", "bob")
    assert service.registry.system("billing-router").operator == "alice"  # type: ignore[union-attr]


async def test_hand_off_by_a_stranger_or_without_a_named_target_changes_nothing(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore
) -> None:
    refused = await service.click(
        ButtonClicked(
            user=MALLORY, action=cards.ROLE_HAND_OFF, value="billing-router:operator", target=BOB
        )
    )
    nobody = await service.click(
        ButtonClicked(user=ALICE, action=cards.ROLE_HAND_OFF, value="billing-router:operator")
    )
    stranger = await service.click(
        ButtonClicked(
            user=ALICE,
            action=cards.ROLE_HAND_OFF,
            value="billing-router:operator",
            target=MALLORY,
        )
    )
    unknown = await service.click(
        ButtonClicked(user=ALICE, action=cards.ROLE_HAND_OFF, value="nope:operator", target=BOB)
    )

    assert refused is not None and refused.card.title == "Not yours to hand off"
    assert nobody is not None and nobody.card.title == "Hand off to a named person"
    assert stranger is not None and stranger.card.title == "Hand off to a named person"
    assert unknown is not None and unknown.card.title == "Unknown role"
    assert slack.sent == []
    actions = await audit_actions(store)
    assert "role.handoff_refused" in actions
    assert "role.handoff_requested" not in actions


def test_routing_without_a_reachable_steward_or_admin_reports_nobody_to_tell(
    registry: Registry,
) -> None:
    findings = [
        stale.Finding("deactivated", "Carol gone", "billing-router", "steward", "carol"),
        stale.Finding("deactivated", "Dana gone", "billing-router", "escalation", "dana"),
        stale.Finding("unowned", "disk full", None, None, None, 7),
    ]
    routed, unrouted = stale.route(registry, findings)
    assert routed == {}
    assert [f.text for f in unrouted] == ["Carol gone", "Dana gone", "disk full"]
