"""A system's scorecard over recent weeks, and its trend as charts rendered on the server
(pygal, SVG). Each chart goes into the page as an <img> with a data: URL: no request of its
own, no script run, and the page's Content Security Policy stays strict. Every chart has a
text alternative and the page shows the same numbers as a table."""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pygal
from pygal.style import Style

from bot.registry import SystemView
from bot.scorecard import Numbers, Period, Record, Scorecard, scorecards, system_info
from bot.scorecard_views import duration, percent

WEEKS = 8
WEEK = timedelta(days=7)
_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#57606a",
    colors=("#0a58ca", "#b42318", "#146c2e", "#8a4b00"),
    font_family="system-ui, sans-serif",
    title_font_size=15,
    label_font_size=12,
    legend_font_size=12,
)


@dataclass(frozen=True)
class Chart:
    """One rendered chart: its title, what it shows in words, and the image."""

    title: str
    alt: str
    src: str


@dataclass(frozen=True)
class Trend:
    """The latest scorecard, the weeks before it (oldest first), and their charts."""

    latest: Scorecard
    weeks: list[tuple[Period, Numbers]]
    charts: list[Chart]


def review_needed(
    systems: Sequence[SystemView], record: Record, *, now: datetime
) -> dict[str, Scorecard]:
    """The scorecards of the week to `now` that crossed a threshold, by system."""
    cards = scorecards(systems=[system_info(s) for s in systems], record=record, now=now)
    return {c.system.id: c for c in cards if c.review_needed}


def span(now: datetime) -> tuple[datetime, datetime]:
    """The time the trend reads: WEEKS weeks ending now, plus the week before the first
    (each week is compared with the one before it)."""
    return now - WEEK * (WEEKS + 1), now


def trend(system: SystemView, record: Record, *, now: datetime) -> Trend:
    """Weekly scorecards of one system from one record, and their charts."""
    info = system_info(system)
    cards = [
        scorecards(systems=[info], record=record, now=now - WEEK * k, length=WEEK)[0]
        for k in reversed(range(WEEKS))
    ]
    weeks = [(c.period, c.current) for c in cards]
    return Trend(cards[-1], weeks, _charts(weeks))


def _label(p: Period) -> str:
    return p.end.strftime("%d %b")


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


def _share(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100)


def _charts(weeks: Sequence[tuple[Period, Numbers]]) -> list[Chart]:
    labels = [_label(p) for p, _ in weeks]
    n = [numbers for _, numbers in weeks]
    last = n[-1]
    return [
        _render(
            pygal.Bar,
            "Alerts per week",
            labels,
            [("taken", [x.taken for x in n]), ("resolved", [x.resolved for x in n])],
            f"Alerts per week: {last.taken} taken and {last.resolved} resolved in the week to "
            f"{labels[-1]}.",
        ),
        _render(
            pygal.Line,
            "Operator first and exceptions (%)",
            labels,
            [
                ("operator first", [_share(x.operator_ack_rate) for x in n]),
                ("exception rate", [_share(x.exception_rate) for x in n]),
            ],
            f"In the week to {labels[-1]}: operator first {percent(last.operator_ack_rate)},"
            f" exception rate {percent(last.exception_rate)}.",
        ),
        _render(
            pygal.Line,
            "Time to respond (minutes)",
            labels,
            [("p50", [_minutes(x.ack_p50) for x in n]), ("p90", [_minutes(x.ack_p90) for x in n])],
            f"In the week to {labels[-1]}: response p50 {duration(last.ack_p50)},"
            f" p90 {duration(last.ack_p90)}.",
        ),
    ]


def _render(
    kind: type[pygal.graph.graph.Graph],
    title: str,
    labels: list[str],
    series: list[tuple[str, list[float | None] | list[int]]],
    alt: str,
) -> Chart:
    chart = kind(
        width=520,
        height=260,
        style=_STYLE,
        js=[],  # pygal's default loads a script from a CDN; an <img> runs none anyway
        disable_xml_declaration=True,
        legend_at_bottom=True,
        show_y_guides=True,
        allow_interruptions=True,
        print_values=False,
        x_label_rotation=0,
        title=title,
    )
    chart.x_labels = labels
    for name, values in series:
        chart.add(name, values)
    svg = chart.render(is_unicode=True).encode()
    return Chart(title, alt, "data:image/svg+xml;base64," + base64.b64encode(svg).decode())


class TrendCache:
    """Trends by system for a few minutes: charts cost more to draw than the rest of the page,
    and a week's figures move slowly."""

    def __init__(self, *, size: int = 256, fresh_for: timedelta = timedelta(minutes=5)) -> None:
        self.size = size
        self.fresh_for = fresh_for
        self._items: OrderedDict[str, tuple[datetime, Trend]] = OrderedDict()

    def get(self, system: str, now: datetime) -> Trend | None:
        """A trend drawn less than `fresh_for` ago, or None."""
        found = self._items.get(system)
        if found is None or now - found[0] >= self.fresh_for or found[0] > now:
            return None
        self._items.move_to_end(system)
        return found[1]

    def put(self, system: str, now: datetime, trend: Trend) -> None:
        """Keep a trend, dropping the least recently used beyond `size`."""
        self._items[system] = (now, trend)
        self._items.move_to_end(system)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
