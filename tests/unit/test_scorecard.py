"""Scorecard numbers from constructed histories: each metric, its trend, thresholds, empties."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from bot import scorecard_views as views
from bot.scorecard import (
    AlertRecord,
    DigestRecord,
    Record,
    StopRecord,
    SystemInfo,
    Thresholds,
    percentile,
    scorecards,
)

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BILLING = SystemInfo(
    id="billing-router",
    name="Billing ticket router",
    steward="carol",
    channels=frozenset({"slack:C0ALERTS1"}),
)


def alert(
    n: int,
    *,
    opened: datetime,
    system: str | None = "billing-router",
    fp: str = "f",
    holder: str | None = "alice",
    ack: tuple[str, timedelta] | None = None,
    resolved: tuple[str, timedelta] | None = None,
    step_after: timedelta | None = None,
    hand_offs: int = 0,
    repeats: int = 0,
    channel: str = "slack:C0ALERTS1",
) -> AlertRecord:
    return AlertRecord(
        id=n,
        system=system,
        channel=channel,
        fingerprint=fp,
        opened_at=opened,
        first_holder=holder,
        acknowledged_by=ack[0] if ack else None,
        acknowledged_at=opened + ack[1] if ack else None,
        resolved_by=resolved[0] if resolved else None,
        resolved_at=opened + resolved[1] if resolved else None,
        first_step_at=opened + step_after if step_after else None,
        steps_sent=1 if step_after else 0,
        hand_offs=hand_offs,
        repeats=repeats,
    )


def one(record: Record, system: SystemInfo = BILLING):  # type: ignore[no-untyped-def]
    (card,) = scorecards(systems=[system], record=record, now=NOW)
    return card


def test_empty_periods_give_zeros_and_no_rates() -> None:
    card = one(Record())
    assert card.current.taken == 0 and card.previous.taken == 0
    assert card.current.operator_ack_rate is None
    assert card.current.exception_rate is None
    assert card.current.ack_p50 is None
    assert card.operator_ack_change is None
    assert not card.review_needed and not card.no_decision
    text = views.markdown([card])
    assert "n/a" in text and "Stops: none." in text and "no digest sent yet" in text
    doc = json.loads(views.to_json([card], generated_at=NOW))
    assert doc["scorecards"][0]["current"]["exception_rate"] is None


def test_throughput_taken_resolved_still_open() -> None:
    t = NOW - 3 * DAY
    record = Record(
        alerts=[
            alert(1, opened=t, resolved=("alice", timedelta(hours=1))),
            alert(2, opened=t, fp="g"),  # still open
            alert(3, opened=NOW - 9 * DAY, fp="h", resolved=("monitor", 4 * DAY)),  # resolved now
            alert(4, opened=NOW - 10 * DAY, fp="i"),  # open since the previous period
        ]
    )
    card = one(record)
    assert (card.current.taken, card.current.resolved, card.current.still_open) == (2, 2, 2)
    assert (card.previous.taken, card.previous.resolved, card.previous.still_open) == (2, 0, 2)


def test_quality_trend_operator_first_and_its_change() -> None:
    cur, prev = NOW - 2 * DAY, NOW - 9 * DAY
    record = Record(
        alerts=[
            # previous: 1 of 2 answered by the operator before escalation
            alert(
                1,
                opened=prev,
                ack=("alice", timedelta(minutes=5)),
                step_after=timedelta(minutes=10),
            ),
            alert(
                2,
                opened=prev,
                fp="b",
                ack=("bob", timedelta(minutes=20)),
                step_after=timedelta(minutes=10),
            ),
            # current: 3 of 4; one resolved by the operator without acknowledging counts,
            # one auto-resolved by the monitor does not
            alert(3, opened=cur, fp="c", ack=("alice", timedelta(minutes=1))),
            alert(4, opened=cur, fp="d", resolved=("alice", timedelta(minutes=2))),
            alert(5, opened=cur, fp="e", ack=("alice", timedelta(minutes=3))),
            alert(6, opened=cur, fp="f", resolved=("monitor", timedelta(minutes=4))),
        ]
    )
    card = one(record)
    assert card.previous.operator_ack_rate == 0.5
    assert card.current.operator_ack_rate == 0.75
    assert card.operator_ack_change == 0.25
    assert card.current.responses == 3
    assert "+25 pts" in views.markdown([card])


def test_acknowledged_after_the_first_step_is_not_operator_first_and_is_an_exception() -> None:
    t = NOW - DAY
    late = alert(
        1, opened=t, ack=("alice", timedelta(minutes=30)), step_after=timedelta(minutes=10)
    )
    card = one(Record(alerts=[late]))
    assert card.current.operator_first == 0
    assert card.current.escalated == 1
    assert card.current.exception_rate == 1.0


def test_exception_rate_counts_escalated_handed_off_and_unowned_in_its_channels() -> None:
    t = NOW - DAY
    record = Record(
        alerts=[
            alert(1, opened=t, fp="a", ack=("alice", timedelta(minutes=1))),
            alert(2, opened=t, fp="b", step_after=timedelta(minutes=10)),  # escalated, open
            alert(3, opened=t, fp="c", ack=("alice", timedelta(minutes=1)), hand_offs=1),
            alert(4, opened=t, fp="d", ack=("alice", timedelta(minutes=1))),
            # both an escalation and a hand-off: one exception
            alert(5, opened=t, fp="e", step_after=timedelta(minutes=10), hand_offs=2),
            alert(6, opened=t, system=None, holder="dana", fp="u"),  # fallback in its channel
            alert(7, opened=t, system=None, holder=None, fp="v", channel="slack:COTHER"),
        ]
    )
    card = one(record)
    n = card.current
    assert (n.escalated, n.handed_off, n.unowned) == (2, 2, 1)
    assert n.exceptions == 4
    assert n.exception_rate == 4 / 6


def test_rework_within_24h_of_resolve_and_repeats_on_claims() -> None:
    t = NOW - 3 * DAY
    record = Record(
        alerts=[
            alert(1, opened=t, fp="x", resolved=("alice", timedelta(hours=1)), repeats=3),
            alert(2, opened=t + timedelta(hours=20), fp="x"),  # 19 h after resolve: rework
            alert(3, opened=t, fp="y", resolved=("alice", timedelta(hours=1))),
            alert(4, opened=t + timedelta(hours=30), fp="y"),  # 29 h after: not rework
            # resolved in the previous period, fired again just inside this one
            alert(
                5,
                opened=NOW - 7 * DAY - timedelta(hours=5),
                fp="z",
                resolved=("alice", timedelta(hours=1)),
            ),
            alert(6, opened=NOW - 7 * DAY + timedelta(hours=1), fp="z"),
            # same fingerprint on another system is not rework
            alert(7, opened=t + timedelta(hours=2), fp="x", system="support-drafter"),
        ]
    )
    card = one(record)
    assert card.current.rework == 2
    assert card.current.repeats == 3
    assert card.previous.rework == 0


def test_latencies_response_stop_confirmation_and_decision() -> None:
    t = NOW - 2 * DAY
    acks = [1, 2, 3, 4, 5, 6, 7, 8, 9, 60]
    alerts = [
        alert(i, opened=t, fp=str(i), ack=("alice", timedelta(minutes=m)))
        for i, m in enumerate(acks)
    ]
    stops = [
        StopRecord(1, "billing-router", "stop", "carol", t, "done", t + timedelta(minutes=2)),
        StopRecord(2, "billing-router", "stop", "carol", t, "cancelled"),
        StopRecord(3, "support-drafter", "stop", "carol", t, "done", t + timedelta(hours=1)),
    ]
    digests = [
        DigestRecord("billing-router", NOW - 7 * DAY, "continue", NOW - 6 * DAY, "carol"),
        DigestRecord("billing-router", NOW - 14 * DAY, "pause", NOW - 13 * DAY, "carol"),
    ]
    card = one(Record(alerts=alerts, stops=stops, digests=digests))
    assert card.current.ack_p50 == timedelta(minutes=5)
    assert card.current.ack_p90 == timedelta(minutes=9)
    assert card.current.stop_requests == 2
    assert card.current.stop_confirm_p50 == timedelta(minutes=2)
    assert [s.id for s in card.stops] == [1, 2]
    assert card.current.decision_p50 == DAY and card.previous.decision_p50 == DAY
    assert card.last_digest is not None and card.last_digest.decision == "continue"
    assert not card.no_decision


def test_percentile_nearest_rank() -> None:
    values = [timedelta(seconds=s) for s in (5, 1, 3)]
    assert percentile(values, 0.5) == timedelta(seconds=3)
    assert percentile(values, 0.9) == timedelta(seconds=5)
    assert percentile([], 0.5) is None


def test_thresholds_crossed_name_the_number() -> None:
    system = SystemInfo(
        id="billing-router",
        name="Billing",
        steward="carol",
        thresholds=Thresholds(
            exception_rate=0.3,
            ack_p90=timedelta(minutes=30),
            operator_ack_rate=0.8,
            rework=0,
            still_open=5,
            ack_p50=timedelta(hours=1),
        ),
    )
    t = NOW - DAY
    record = Record(
        alerts=[
            alert(1, opened=t, fp="a", ack=("alice", timedelta(minutes=1))),
            alert(
                2,
                opened=t,
                fp="b",
                ack=("bob", timedelta(minutes=45)),
                step_after=timedelta(minutes=10),
            ),
        ]
    )
    card = one(record, system)
    assert [c.metric for c in card.crossed] == ["exception_rate", "ack_p90", "operator_ack_rate"]
    assert card.review_needed
    text = views.markdown([card])
    assert "Review needed: exception rate 50% is over 30%" in text
    assert "response p90 45m is over 30m" in text
    assert "operator first 50% is under 80%" in text
    doc = json.loads(views.to_json([card], generated_at=NOW))["scorecards"][0]
    assert doc["crossed"][1] == {"metric": "ack_p90", "value": 2700.0, "threshold": 1800.0}


def test_thresholds_not_crossed_at_the_limit() -> None:
    system = SystemInfo(
        id="billing-router",
        name="Billing",
        steward="carol",
        thresholds=Thresholds(exception_rate=0.5, ack_p90=timedelta(minutes=45), rework=0),
    )
    t = NOW - DAY
    record = Record(
        alerts=[
            alert(1, opened=t, fp="a", ack=("alice", timedelta(minutes=1))),
            alert(
                2,
                opened=t,
                fp="b",
                ack=("bob", timedelta(minutes=45)),
                step_after=timedelta(minutes=10),
            ),
        ]
    )
    card = one(record, system)
    assert card.crossed == () and not card.review_needed


def test_no_decision_after_the_time_box_only() -> None:
    fresh = Record(digests=[DigestRecord("billing-router", NOW - timedelta(hours=2))])
    card = one(fresh)
    assert not card.no_decision
    assert "awaiting a decision" in views.markdown([card])
    old = Record(digests=[DigestRecord("billing-router", NOW - 7 * DAY)])
    card = one(old)
    assert card.no_decision
    assert "NO DECISION" in views.markdown([card])
    digest = views.steward_digest(steward_name="Carol Diaz", cards=[card])
    assert "No decision was made on the last digest" in digest.plain_text()


def test_stale_roles_and_stops_of_the_period_are_shown() -> None:
    t = NOW - DAY
    record = Record(
        stale_roles={"billing-router": ["operator not confirmed for 40 days"]},
        stops=[StopRecord(9, "billing-router", "stop", "carol", t, "failed", t, "bad scores")],
    )
    card = one(record)
    text = views.markdown([card])
    assert "Stale roles: operator not confirmed for 40 days." in text
    assert "stop requested by carol" in text and "failed (bad scores)" in text


def test_steward_digest_card_has_four_decisions_per_system() -> None:
    other = SystemInfo(id="support-drafter", name="Drafter", steward="carol")
    cards = scorecards(systems=[BILLING, other], record=Record(), now=NOW)
    digest = views.steward_digest(steward_name="Carol Diaz", cards=cards)
    assert digest.action_ids() == (views.DECIDE,) * 8
    values = [b.value for b in digest.buttons]
    assert values[:4] == [
        "continue:billing-router",
        "stabilize:billing-router",
        "pause:billing-router",
        "stop:billing-router",
    ]
    assert views.parse_decision(values[7]) == ("stop", "support-drafter")
    assert views.parse_decision("nonsense") is None
    assert views.parse_decision("launch:billing-router") is None
    many = scorecards(
        systems=[SystemInfo(id=f"s{i}", name="x", steward="c") for i in range(8)],
        record=Record(),
        now=NOW,
    )
    card = views.steward_digest(steward_name="C", cards=many)
    assert len(card.buttons) == 24
    assert "decide on s6, s7" in card.plain_text()


def test_json_keys_are_stable_and_csv_has_fixed_columns() -> None:
    card = one(Record(alerts=[alert(1, opened=NOW - DAY, ack=("alice", timedelta(minutes=2)))]))
    doc = json.loads(views.to_json([card], generated_at=NOW))
    assert doc["version"] == 1
    entry = doc["scorecards"][0]
    assert sorted(entry) == sorted(
        [
            "system",
            "name",
            "steward",
            "period",
            "previous_period",
            "current",
            "previous",
            "operator_ack_change",
            "review_needed",
            "crossed",
            "stale_roles",
            "stops",
            "last_digest",
            "no_decision",
        ]
    )
    assert entry["current"]["ack_p50_seconds"] == 120.0
    rows = list(csv.reader(io.StringIO(views.to_csv([card]))))
    assert tuple(rows[0]) == views.CSV_COLUMNS
    assert rows[1][0] == "billing-router"
    assert dict(zip(rows[0], rows[1], strict=True))["taken"] == "1"


def test_csv_cells_cannot_become_formulas_and_markdown_cells_stay_closed() -> None:
    evil = SystemInfo(id="=cmd|x", name="a|b\nc", steward="carol")
    card = one(Record(stale_roles={"=cmd|x": ["@SUM(1)"]}), evil)
    rows = list(csv.reader(io.StringIO(views.to_csv([card]))))
    assert rows[1][0] == "'=cmd|x"
    assert "## =cmd\\|x: a\\|b c" in views.markdown([card])


def test_system_info_and_digest_period_from_the_registry(registry) -> None:  # type: ignore[no-untyped-def]
    from bot.scorecard import system_info
    from bot.scorecard_views import digest_period

    info = system_info(registry.system("billing-router"))
    assert info.channels == frozenset({"slack:C0ALERTS1"}) and info.steward == "carol"
    assert digest_period(NOW) == "2026-W50"
