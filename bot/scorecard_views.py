"""Scorecards as markdown, JSON (stable keys for scripts), CSV and the steward's digest card."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cards import Button, Card, Line
from bot.scorecard import DECISIONS, Crossing, Numbers, Period, Scorecard, StopRecord

DECIDE = "governance.decide"  # button value: "<decision>:<system>"
MAX_DECIDED_IN_CARD = 6  # 4 buttons each: Slack allows 25 elements per actions block
JSON_VERSION = 1

_LABELS = {
    "exception_rate": "exception rate",
    "ack_p50": "response p50",
    "ack_p90": "response p90",
    "operator_ack_rate": "operator first",
    "rework": "rework",
    "still_open": "still open",
}


def iso(at: datetime | None) -> str | None:
    """A UTC timestamp in ISO 8601 with a Z, or None."""
    return None if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(at: datetime) -> str:
    """A time as people in several time zones read it."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(value: timedelta | None) -> str:
    """A latency for people: `45s`, `12m`, `3h 05m`, `2d 4h`; `n/a` when there is none."""
    if value is None:
        return "n/a"
    s = max(0, int(value.total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def percent(rate: float | None) -> str:
    """A fraction as a whole percentage, or `n/a`."""
    return "n/a" if rate is None else f"{round(rate * 100)}%"


def _points(change: float | None) -> str:
    return "n/a" if change is None else f"{round(change * 100):+d} pts"


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _crossing_text(c: Crossing) -> str:
    label = _LABELS.get(c.metric, c.metric)
    if isinstance(c.value, timedelta) and isinstance(c.threshold, timedelta):
        return f"{label} {duration(c.value)} is over {duration(c.threshold)}"
    if isinstance(c.value, float):
        word = "under" if c.metric == "operator_ack_rate" else "over"
        return f"{label} {percent(c.value)} is {word} {percent(float(c.threshold))}"  # type: ignore[arg-type]
    return f"{label} {c.value} is over {c.threshold}"


def _stop_text(s: StopRecord) -> str:
    reason = f" ({s.reason})" if s.reason else ""
    return f"{s.kind} requested by {s.requested_by} at {when(s.requested_at)}: {s.state}{reason}"


def _rows(card: Scorecard) -> list[tuple[str, str, str, str]]:
    now, before = card.current, card.previous

    def count(label: str, a: int, b: int) -> tuple[str, str, str, str]:
        return (label, str(a), str(b), f"{a - b:+d}")

    def rate(label: str, a: float | None, b: float | None) -> tuple[str, str, str, str]:
        change = None if a is None or b is None else a - b
        return (label, percent(a), percent(b), _points(change))

    def latency(label: str, a: timedelta | None, b: timedelta | None) -> tuple[str, str, str, str]:
        return (label, duration(a), duration(b), "")

    return [
        count("alerts taken", now.taken, before.taken),
        count("resolved", now.resolved, before.resolved),
        count("still open at period end", now.still_open, before.still_open),
        rate("operator first (before escalation)", now.operator_ack_rate, before.operator_ack_rate),
        rate("exception rate", now.exception_rate, before.exception_rate),
        count("escalated past the operator", now.escalated, before.escalated),
        count("handed off", now.handed_off, before.handed_off),
        count("unowned in its channels", now.unowned, before.unowned),
        count("rework (again within 24 h)", now.rework, before.rework),
        count("repeats on open claims", now.repeats, before.repeats),
        latency("alert to response p50", now.ack_p50, before.ack_p50),
        latency("alert to response p90", now.ack_p90, before.ack_p90),
        latency("stop request to confirmation p50", now.stop_confirm_p50, before.stop_confirm_p50),
        latency("digest to decision p50", now.decision_p50, before.decision_p50),
    ]


def _cell(text: str) -> str:
    # Registry names are free text: keep them inside their table cell.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _period(p: Period) -> str:
    return f"{when(p.start)} to {when(p.end)}"


def markdown(cards: Sequence[Scorecard]) -> str:
    """Every scorecard as one markdown document."""
    if not cards:
        return "# Scorecard\n\nNo systems.\n"
    out = [f"# Scorecard, {_period(cards[0].period)}", ""]
    out.append(f"Compared with {_period(cards[0].previous_period)}.")
    for card in cards:
        flag = " (review needed)" if card.review_needed else ""
        out += ["", f"## {_cell(card.system.id)}: {_cell(card.system.name)}{flag}", ""]
        out += ["| metric | this period | previous | change |", "|---|---:|---:|---:|"]
        out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(card)]
        out.append("")
        if card.crossed:
            out.append("Review needed: " + "; ".join(_crossing_text(c) for c in card.crossed) + ".")
        out.append(
            "Stale roles: " + ("; ".join(_cell(r) for r in card.stale_roles) or "none") + "."
        )
        stops = "; ".join(_cell(_stop_text(s)) for s in card.stops)
        out.append(f"Stops: {stops or 'none'}.")
        out.append(f"Last decision: {_decision_text(card)}.")
    return "\n".join(out) + "\n"


def _decision_text(card: Scorecard) -> str:
    d = card.last_digest
    if d is None:
        return "no digest sent yet"
    if d.decision is None:
        if card.no_decision:
            return f"NO DECISION on the digest of {when(d.sent_at)}"
        return f"awaiting a decision on the digest of {when(d.sent_at)}"
    at = when(d.decided_at) if d.decided_at else "?"
    reason = f" ({d.reason})" if d.reason else ""
    return f"{d.decision} by {d.decided_by or '?'} at {at}{reason}"


def _numbers_json(n: Numbers) -> dict[str, Any]:
    return {
        "taken": n.taken,
        "resolved": n.resolved,
        "still_open": n.still_open,
        "operator_first": n.operator_first,
        "operator_ack_rate": n.operator_ack_rate,
        "escalated": n.escalated,
        "handed_off": n.handed_off,
        "unowned": n.unowned,
        "exceptions": n.exceptions,
        "exception_rate": n.exception_rate,
        "rework": n.rework,
        "repeats": n.repeats,
        "responses": n.responses,
        "ack_p50_seconds": _seconds(n.ack_p50),
        "ack_p90_seconds": _seconds(n.ack_p90),
        "stop_requests": n.stop_requests,
        "stop_confirm_p50_seconds": _seconds(n.stop_confirm_p50),
        "digests": n.digests,
        "decision_p50_seconds": _seconds(n.decision_p50),
    }


def _number(value: float | timedelta | int) -> float | int:
    return value.total_seconds() if isinstance(value, timedelta) else value


def card_json(card: Scorecard) -> dict[str, Any]:
    """One scorecard as plain JSON types; keys never change meaning (durations in seconds)."""
    d = card.last_digest
    return {
        "system": card.system.id,
        "name": card.system.name,
        "steward": card.system.steward,
        "period": {"start": iso(card.period.start), "end": iso(card.period.end)},
        "previous_period": {
            "start": iso(card.previous_period.start),
            "end": iso(card.previous_period.end),
        },
        "current": _numbers_json(card.current),
        "previous": _numbers_json(card.previous),
        "operator_ack_change": card.operator_ack_change,
        "review_needed": card.review_needed,
        "crossed": [
            {"metric": c.metric, "value": _number(c.value), "threshold": _number(c.threshold)}
            for c in card.crossed
        ],
        "stale_roles": list(card.stale_roles),
        "stops": [
            {
                "id": s.id,
                "kind": s.kind,
                "requested_by": s.requested_by,
                "requested_at": iso(s.requested_at),
                "state": s.state,
                "confirmed_at": iso(s.confirmed_at),
                "reason": s.reason,
            }
            for s in card.stops
        ],
        "last_digest": None
        if d is None
        else {
            "sent_at": iso(d.sent_at),
            "decision": d.decision,
            "decided_by": d.decided_by,
            "decided_at": iso(d.decided_at),
            "reason": d.reason,
        },
        "no_decision": card.no_decision,
    }


def to_json(cards: Sequence[Scorecard], *, generated_at: datetime) -> str:
    """The document `scorecard --format json` prints."""
    doc = {
        "version": JSON_VERSION,
        "generated_at": iso(generated_at),
        "scorecards": [card_json(c) for c in cards],
    }
    return json.dumps(doc, indent=2, sort_keys=True)


CSV_COLUMNS = (
    "system",
    "period_start",
    "period_end",
    *(f"{k}" for k in _numbers_json(Numbers())),
    "operator_ack_rate_previous",
    "exception_rate_previous",
    "operator_ack_change",
    "review_needed",
    "crossed",
    "stale_roles",
    "stops",
    "no_decision",
)


def _safe(value: object) -> object:
    # A spreadsheet runs a cell that starts with = + - @ as a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(cards: Sequence[Scorecard]) -> str:
    """One row per system with fixed columns (CSV_COLUMNS)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for card in cards:
        row: dict[str, object] = {
            "system": card.system.id,
            "period_start": iso(card.period.start),
            "period_end": iso(card.period.end),
            **_numbers_json(card.current),
            "operator_ack_rate_previous": card.previous.operator_ack_rate,
            "exception_rate_previous": card.previous.exception_rate,
            "operator_ack_change": card.operator_ack_change,
            "review_needed": card.review_needed,
            "crossed": ";".join(c.metric for c in card.crossed),
            "stale_roles": ";".join(card.stale_roles),
            "stops": len(card.stops),
            "no_decision": card.no_decision,
        }
        writer.writerow(["" if row[c] is None else _safe(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def summary_line(card: Scorecard) -> str:
    """The scorecard in one sentence, for a digest or a chat answer."""
    n = card.current
    return (
        f"{n.taken} alerts taken ({n.taken - card.previous.taken:+d}), {n.resolved} resolved, "
        f"{n.still_open} still open; operator first {percent(n.operator_ack_rate)}"
        f" ({_points(card.operator_ack_change)}); exceptions {percent(n.exception_rate)};"
        f" rework {n.rework}; response p50 {duration(n.ack_p50)}, p90 {duration(n.ack_p90)}."
    )


def decision_buttons(system: str) -> tuple[Button, ...]:
    """The four decisions for one system."""
    styles = {"continue": "primary", "stop": "danger"}
    return tuple(
        Button(
            DECIDE,
            f"{d.capitalize()} {system}",
            f"{d}:{system}",
            style=styles.get(d, "default"),  # type: ignore[arg-type]
        )
        for d in DECISIONS
    )


def parse_decision(value: str) -> tuple[str, str] | None:
    """A decision button's value -> (decision, system), or None when it is not one."""
    decision, sep, system = value.partition(":")
    if not sep or decision not in DECISIONS or not system or len(system) > 255:
        return None
    return decision, system


def steward_digest(*, steward_name: str, cards: Sequence[Scorecard]) -> Card:
    """The weekly direct message to a steward: each system's scorecard and the four decisions."""
    lines: list[Line] = [
        (
            f"{steward_name}, your weekly scorecard: {len(cards)} system"
            f"{'s' if len(cards) != 1 else ''}. Decide for each: continue, stabilize before"
            " scaling, pause for risk remediation, or stop and redesign.",
        )
    ]
    buttons: list[Button] = []
    for i, card in enumerate(cards):
        flag = " REVIEW NEEDED." if card.review_needed else ""
        lines.append((f"{card.system.id} ({card.system.name}):{flag} {summary_line(card)}",))
        if card.crossed:
            lines.append(("Crossed: " + "; ".join(_crossing_text(c) for c in card.crossed) + ".",))
        if card.no_decision:
            lines.append((f"No decision was made on the last digest for {card.system.id}.",))
        if card.stale_roles:
            lines.append(("Stale roles: " + "; ".join(card.stale_roles) + ".",))
        if card.stops:
            lines.append(("Stops: " + "; ".join(_stop_text(s) for s in card.stops) + ".",))
        if i < MAX_DECIDED_IN_CARD:
            buttons += decision_buttons(card.system.id)
    if len(cards) > MAX_DECIDED_IN_CARD:
        rest = ", ".join(c.system.id for c in cards[MAX_DECIDED_IN_CARD:])
        lines.append((f"Too many systems for one message; decide on {rest} from the console.",))
    period = cards[0].period if cards else None
    fields = (("Period", _period(period)),) if period else ()
    return Card(
        title="Weekly governance: your systems' scorecard",
        lines=tuple(lines),
        fields=fields,
        buttons=tuple(buttons),
        tone="warning" if any(c.review_needed or c.no_decision for c in cards) else "info",
    )


def digest_period(at: datetime) -> str:
    """The ISO week a digest belongs to (`2026-W49`): one digest per system per week."""
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"
