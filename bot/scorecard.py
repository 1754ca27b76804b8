"""The steward's scorecard: per system and period, numbers computed from the record alone.

Definitions (the README repeats them; change both together):

- taken: alerts opened in the period; resolved: alerts resolved in the period (whenever they
  opened); still open: alerts opened before the period's end and not resolved by then.
- response: the first human answer to an alert: its acknowledgement, or a resolve by a person
  when nobody acknowledged first (a monitor's auto-resolve is not a response).
- operator first: the alert's first holder (the operator it was claimed for) responded before
  any escalation step was sent. Its share of the period's owned alerts is the quality trend.
- exception: an alert escalated past the operator (a step sent before any response), handed
  off, or an unowned alert (fallback or nobody) in one of the system's channels.
- rework: an alert opened within 24 h after an alert of the same system and fingerprint was
  resolved; repeats are the extra deliveries counted on open claims.
- latencies: alert -> response p50/p90; stop request -> confirmation p50 (confirmation is the
  time the request left `requested` for a run); steward digest -> decision p50.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from bot.registry import SystemView

DECISIONS = ("continue", "stabilize", "pause", "stop")
REWORK_WINDOW = timedelta(hours=24)
MONITOR = "monitor"  # the actor of resolves an integration posted


class AlertRecord(NamedTuple):
    """What the record says about one alert, flattened for counting (a tuple: a busy week
    builds tens of thousands of them)."""

    id: int
    system: str | None
    channel: str  # "platform:channel"
    fingerprint: str
    opened_at: datetime
    first_holder: str | None  # who it was claimed for (the operator, a fallback, or nobody)
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    first_step_at: datetime | None = None  # first escalation step actually sent
    steps_sent: int = 0
    hand_offs: int = 0
    repeats: int = 0

    @property
    def response(self) -> tuple[str, datetime] | None:
        """Who answered first and when (see the module docstring)."""
        if self.acknowledged_by is not None and self.acknowledged_at is not None:
            return self.acknowledged_by, self.acknowledged_at
        if self.resolved_at is not None and self.resolved_by not in (None, MONITOR):
            return str(self.resolved_by), self.resolved_at
        return None


@dataclass(frozen=True)
class StopRecord:
    """One stop or resume request and what became of it."""

    id: int
    system: str
    kind: str  # "stop" or "resume"
    requested_by: str
    requested_at: datetime
    state: str  # requested, running, done, failed, cancelled, expired
    confirmed_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class DigestRecord:
    """One steward digest for one system and the decision it got, if any."""

    system: str
    sent_at: datetime
    decision: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Thresholds:
    """When a system needs review; None switches a check off. Rates are fractions."""

    exception_rate: float | None = None
    ack_p50: timedelta | None = None
    ack_p90: timedelta | None = None
    operator_ack_rate: float | None = None  # crossed when the share falls BELOW it
    rework: int | None = None
    still_open: int | None = None


@dataclass(frozen=True)
class SystemInfo:
    """What the scorecard needs to know about a system from the registry."""

    id: str
    name: str
    steward: str
    channels: frozenset[str] = frozenset()  # "platform:channel"
    thresholds: Thresholds = Thresholds()
    decision_timebox: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class Record:
    """Everything a scorecard run reads, as the store hands it over."""

    alerts: Sequence[AlertRecord] = ()
    stops: Sequence[StopRecord] = ()
    digests: Sequence[DigestRecord] = ()
    stale_roles: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Period:
    """A half-open span of time [start, end)."""

    start: datetime
    end: datetime

    def __contains__(self, at: object) -> bool:
        return isinstance(at, datetime) and self.start <= at < self.end


def periods(*, now: datetime, length: timedelta = timedelta(days=7)) -> tuple[Period, Period]:
    """The current period ending now and the one before it, of equal length."""
    current = Period(now - length, now)
    return current, Period(current.start - length, current.start)


@dataclass(frozen=True)
class Numbers:
    """One system's figures for one period. Rates are fractions; None means no data."""

    taken: int = 0
    resolved: int = 0
    still_open: int = 0
    operator_first: int = 0
    operator_ack_rate: float | None = None
    escalated: int = 0
    handed_off: int = 0
    unowned: int = 0
    exceptions: int = 0
    exception_rate: float | None = None
    rework: int = 0
    repeats: int = 0
    responses: int = 0
    ack_p50: timedelta | None = None
    ack_p90: timedelta | None = None
    stop_requests: int = 0
    stop_confirm_p50: timedelta | None = None
    digests: int = 0
    decision_p50: timedelta | None = None


@dataclass(frozen=True)
class Crossing:
    """A threshold a number crossed: which, its value and the limit."""

    metric: str
    value: float | timedelta | int
    threshold: float | timedelta | int


@dataclass(frozen=True)
class Scorecard:
    """One system's scorecard: this period, the one before, and what needs a steward's eye."""

    system: SystemInfo
    period: Period
    previous_period: Period
    current: Numbers
    previous: Numbers
    crossed: tuple[Crossing, ...] = ()
    stale_roles: tuple[str, ...] = ()
    stops: tuple[StopRecord, ...] = ()
    last_digest: DigestRecord | None = None
    no_decision: bool = False  # the last digest went undecided past its time box

    @property
    def review_needed(self) -> bool:
        """True when any threshold was crossed."""
        return bool(self.crossed)

    @property
    def operator_ack_change(self) -> float | None:
        """Change of the operator-first share against the previous period (fraction points)."""
        now, before = self.current.operator_ack_rate, self.previous.operator_ack_rate
        return None if now is None or before is None else now - before


def percentile(values: Sequence[timedelta], p: float) -> timedelta | None:
    """Nearest-rank percentile (p in (0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rework_ids(alerts: Iterable[AlertRecord]) -> set[int]:
    """Alerts opened within REWORK_WINDOW after the same system+fingerprint was resolved."""
    by_key: dict[tuple[str, str], list[AlertRecord]] = {}
    for a in alerts:
        if a.system is not None:
            by_key.setdefault((a.system, a.fingerprint), []).append(a)
    found: set[int] = set()
    for group in by_key.values():
        group.sort(key=lambda a: (a.opened_at, a.id))
        last_resolved: datetime | None = None
        for a in group:
            if last_resolved is not None and last_resolved <= a.opened_at <= (
                last_resolved + REWORK_WINDOW
            ):
                found.add(a.id)
            if a.resolved_at is not None and (
                last_resolved is None or a.resolved_at > last_resolved
            ):
                last_resolved = a.resolved_at
    return found


def numbers(
    *,
    alerts: Sequence[AlertRecord],
    unowned_nearby: Sequence[AlertRecord],
    rework_ids: set[int],
    stops: Sequence[StopRecord],
    digests: Sequence[DigestRecord],
    period: Period,
) -> Numbers:
    """One system's figures for one period, from its alerts (all it has in the record)."""
    taken = [a for a in alerts if a.opened_at in period]
    nearby = [a for a in unowned_nearby if a.opened_at in period]
    operator_first = escalated = handed = 0
    exceptional: set[int] = set()
    latencies: list[timedelta] = []
    for a in taken:
        response = a.response
        if response is not None:
            latencies.append(response[1] - a.opened_at)
        before_steps = response is not None and (
            a.first_step_at is None or response[1] < a.first_step_at
        )
        if before_steps and response is not None and response[0] == a.first_holder:
            operator_first += 1
        if a.first_step_at is not None and not before_steps:
            escalated += 1
            exceptional.add(a.id)
        if a.hand_offs:
            handed += 1
            exceptional.add(a.id)
    period_stops = [s for s in stops if s.requested_at in period]
    confirms = [s.confirmed_at - s.requested_at for s in period_stops if s.confirmed_at is not None]
    period_digests = [d for d in digests if d.sent_at in period]
    decisions = [d.decided_at - d.sent_at for d in period_digests if d.decided_at is not None]
    exceptions = len(exceptional) + len(nearby)
    return Numbers(
        taken=len(taken),
        resolved=sum(1 for a in alerts if a.resolved_at in period),
        still_open=sum(
            1
            for a in alerts
            if a.opened_at < period.end and (a.resolved_at is None or a.resolved_at >= period.end)
        ),
        operator_first=operator_first,
        operator_ack_rate=_rate(operator_first, len(taken)),
        escalated=escalated,
        handed_off=handed,
        unowned=len(nearby),
        exceptions=exceptions,
        exception_rate=_rate(exceptions, len(taken) + len(nearby)),
        rework=sum(1 for a in taken if a.id in rework_ids),
        repeats=sum(a.repeats for a in taken),
        responses=len(latencies),
        ack_p50=percentile(latencies, 0.5),
        ack_p90=percentile(latencies, 0.9),
        stop_requests=len(period_stops),
        stop_confirm_p50=percentile(confirms, 0.5),
        digests=len(period_digests),
        decision_p50=percentile(decisions, 0.5),
    )


def crossings(values: Numbers, limits: Thresholds) -> tuple[Crossing, ...]:
    """Every threshold the period's numbers crossed, in a fixed order."""
    found: list[Crossing] = []

    def above(
        metric: str, value: float | timedelta | None, limit: float | timedelta | None
    ) -> None:
        if value is not None and limit is not None and value > limit:  # type: ignore[operator]
            found.append(Crossing(metric, value, limit))

    above("exception_rate", values.exception_rate, limits.exception_rate)
    above("ack_p50", values.ack_p50, limits.ack_p50)
    above("ack_p90", values.ack_p90, limits.ack_p90)
    rate, floor = values.operator_ack_rate, limits.operator_ack_rate
    if rate is not None and floor is not None and rate < floor:
        found.append(Crossing("operator_ack_rate", rate, floor))
    if limits.rework is not None and values.rework > limits.rework:
        found.append(Crossing("rework", values.rework, limits.rework))
    if limits.still_open is not None and values.still_open > limits.still_open:
        found.append(Crossing("still_open", values.still_open, limits.still_open))
    return tuple(found)


def scorecards(
    *,
    systems: Sequence[SystemInfo],
    record: Record,
    now: datetime,
    length: timedelta = timedelta(days=7),
) -> list[Scorecard]:
    """One scorecard per system (in the given order) for the period ending `now`, compared
    with the period before. `record` must hold every alert opened in either period and every
    alert resolved within 24 h before them or still open (store.governance.scorecard_record)."""
    current, previous = periods(now=now, length=length)
    rework_ids = _rework_ids(record.alerts)
    by_system: dict[str | None, list[AlertRecord]] = {}
    for a in record.alerts:
        by_system.setdefault(a.system, []).append(a)
    unowned_by_channel: dict[str, list[AlertRecord]] = {}
    for a in by_system.get(None, []):
        unowned_by_channel.setdefault(a.channel, []).append(a)
    cards: list[Scorecard] = []
    for system in systems:
        alerts = by_system.get(system.id, [])
        nearby = [a for c in sorted(system.channels) for a in unowned_by_channel.get(c, [])]
        stops = [s for s in record.stops if s.system == system.id]
        digests = sorted(
            (d for d in record.digests if d.system == system.id), key=lambda d: d.sent_at
        )
        figures = {
            p: numbers(
                alerts=alerts,
                unowned_nearby=nearby,
                rework_ids=rework_ids,
                stops=stops,
                digests=digests,
                period=p,
            )
            for p in (current, previous)
        }
        earlier = [d for d in digests if d.sent_at < now]
        last = earlier[-1] if earlier else None
        cards.append(
            Scorecard(
                system=system,
                period=current,
                previous_period=previous,
                current=figures[current],
                previous=figures[previous],
                crossed=crossings(figures[current], system.thresholds),
                stale_roles=tuple(record.stale_roles.get(system.id, ())),
                stops=tuple(s for s in stops if s.requested_at in current),
                last_digest=last,
                no_decision=last is not None
                and last.decision is None
                and now - last.sent_at >= system.decision_timebox,
            )
        )
    return cards


def system_info(system: SystemView) -> SystemInfo:
    """A registry system as the scorecard sees it: channels, thresholds, time box."""
    when = system.governance.review_when
    return SystemInfo(
        id=system.id,
        name=system.name,
        steward=system.steward,
        channels=frozenset(f"{c.platform}:{c.id}" for c in system.channels),
        thresholds=Thresholds(
            exception_rate=when.exception_rate,
            ack_p50=when.ack_p50,
            ack_p90=when.ack_p90,
            operator_ack_rate=when.operator_ack_rate,
            rework=when.rework,
            still_open=when.still_open,
        ),
        decision_timebox=system.governance.decision_timebox,
    )
