"""Alert storms: past a channel's posting pace, claims join one board per channel that is
redrawn in place; every alert is still stored and attributed to a named person at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.fake import InMemoryPlatform, ManualClock, deliver
from bot import cards
from bot.domain import AlertState, MessageRef, UserRef
from bot.events import AlertSeen, ButtonClicked
from bot.ports import PlatformError
from bot.service import AccountabilityService
from store.database import SqlStore

ALICE = UserRef("slack", "U0ALICE01")


def storm_alert(i: int, system: str = "billing-router") -> AlertSeen:
    return AlertSeen(
        platform="slack",
        channel="C0ALERTS1",
        text=f"{system} alert kind-{chr(97 + i % 26)}{chr(97 + i // 26)}",
        event_id=f"Ev{i}",
        message=MessageRef("slack", "C0ALERTS1", f"17000000{i:02d}.0001"),
    )


async def test_a_storm_is_combined_on_one_board(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore, clock: ManualClock
) -> None:
    for i in range(30):
        system = "billing-router" if i % 3 else "support-drafter"
        taken = await deliver(service, storm_alert(i, system))
        assert taken.outcome == "claimed"

    posts = slack.posts("post")
    assert len(posts) == 6  # the burst of five claims, then one board for the rest
    board = posts[-1]
    assert board.thread is None and board.card.title.startswith("Alert storm")
    async with store.transaction() as tx:
        alerts = await tx.alerts.unresolved()
        on_board = await tx.alerts.on_claim(message=board.message)
    assert len(alerts) == 30
    assert all(a.claim is not None and a.holder in ("alice", "bob") for a in alerts)
    assert len(on_board) == 25 and all(a.claim_combined for a in on_board)

    assert (await service.tick()).redrawn == 1
    (drawn,) = slack.posts("update")
    assert drawn.message == board.message
    assert drawn.card.title == "Alert storm: 25 alerts, 2 systems"
    text = drawn.card.plain_text()
    assert "billing-router: 17 alerts (17 open), held by Alice Ng." in text
    assert "support-drafter: 8 alerts (8 open), held by Bob Ruiz." in text
    assert set(drawn.card.mentioned()) == {ALICE, UserRef("slack", "U0BOB0002")}
    assert drawn.card.action_ids() == (cards.ACK_BOARD,)
    assert (await service.tick()).redrawn == 0  # nothing changed: nothing redrawn


async def test_board_redraws_are_coalesced_and_paced(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock
) -> None:
    for i in range(8):
        await deliver(service, storm_alert(i))
    await service.tick()
    for i in range(8, 12):
        await deliver(service, storm_alert(i))
    assert (await service.tick()).redrawn == 0  # drawn less than 2 s ago
    clock.advance(timedelta(seconds=2))
    assert (await service.tick()).redrawn == 1
    assert "7 alerts" in slack.posts("update")[-1].card.title


async def test_acknowledge_all_on_a_board(
    service: AccountabilityService, slack: InMemoryPlatform, store: SqlStore, clock: ManualClock
) -> None:
    for i in range(9):
        await deliver(service, storm_alert(i))
    board = slack.posts("post")[-1]
    await service.tick()
    button = slack.posts("update")[-1].card.buttons[0]
    stranger = await service.click(
        ButtonClicked(user=UserRef("slack", "U0MALLORY"), action=button.action, value=button.value)
    )
    assert stranger is not None and stranger.card.title == "Acknowledged 0 alerts"
    reply = await service.click(ButtonClicked(user=ALICE, action=button.action, value=button.value))
    assert reply is not None and reply.card.title == "Acknowledged 4 alerts"
    async with store.transaction() as tx:
        states = {a.state for a in await tx.alerts.on_claim(message=board.message)}
    assert states == {AlertState.ACKNOWLEDGED}
    clock.advance(timedelta(seconds=2))
    await service.tick()
    assert "4 acknowledged" in slack.posts("update")[-1].card.plain_text()
    clock.advance(timedelta(hours=3))
    # Only the five alerts with claims of their own escalate (two steps each within 3 h).
    assert len((await service.tick()).sent) == 10


async def test_after_the_storm_claims_are_posted_one_by_one_again(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock
) -> None:
    for i in range(7):
        await deliver(service, storm_alert(i))
    assert len(slack.posts("post")) == 6
    clock.advance(timedelta(minutes=3))
    await deliver(service, storm_alert(20))
    last = slack.posts("post")[-1]
    assert last.thread == "1700000020.0001" and last.card.action_ids()[0] == cards.ACK


async def test_escalations_of_board_alerts_are_direct_messages_combined_per_person(
    service: AccountabilityService, slack: InMemoryPlatform, clock: ManualClock
) -> None:
    for i in range(12):
        await deliver(service, storm_alert(i))
    posts_before = len(slack.posts("post"))
    clock.advance(timedelta(minutes=10))
    report = await service.tick()
    assert len(report.sent) == 12
    (digest,) = slack.directs_to("U0BOB0002")
    assert digest.card.title == "Escalation: 12 alerts need you"
    # Five alerts have their own claim and get a thread notice; board alerts do not.
    assert len(slack.posts("post")) == posts_before + 5


async def test_a_board_that_cannot_be_posted_is_retried_by_the_next_alert(
    service: AccountabilityService, slack: InMemoryPlatform
) -> None:
    for i in range(5):
        await deliver(service, storm_alert(i))
    slack.fail_posts = 1
    with pytest.raises(PlatformError):
        await deliver(service, storm_alert(5))
    await deliver(service, storm_alert(6))
    assert slack.posts("post")[-1].card.title.startswith("Alert storm")
