"""Prometheus metrics, kept in one registry per process (tests build their own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The bot's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.alerts = Counter(
            "accountability_alerts_total",
            "Alerts taken, by system and outcome",
            ["system", "outcome"],
            registry=r,
        )
        self.open_alerts = Gauge(
            "accountability_open_alerts", "Alerts not yet resolved", registry=r
        )
        self.escalations = Counter(
            "accountability_escalations_sent_total", "Escalation steps sent", registry=r
        )
        self.ack_latency = Histogram(
            "accountability_ack_latency_seconds",
            "Time from alert to acknowledgement",
            buckets=(30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400),
            registry=r,
        )
        self.stops = Counter(
            "accountability_stops_total",
            "Stop and resume actions, by kind and result",
            ["kind", "result"],
            registry=r,
        )
        self.unowned = Counter(
            "accountability_unowned_alerts_total", "Alerts no system matched", registry=r
        )
        self.rate_limited = Counter(
            "accountability_rate_limited_total",
            "HTTP 429 answers seen, by platform",
            ["platform"],
            registry=r,
        )

    # bot.ports.Observer

    def alert_taken(self, *, system: str | None, outcome: str) -> None:
        """Count an inbound alert."""
        self.alerts.labels(system or "unowned", outcome).inc()
        if outcome == "unowned":
            self.unowned.inc()

    def escalation_sent(self) -> None:
        """Count a sent step."""
        self.escalations.inc()

    def acknowledged(self, *, seconds: float) -> None:
        """Observe acknowledgement latency."""
        self.ack_latency.observe(seconds)

    def stop_ran(self, *, kind: str, ok: bool) -> None:
        """Count a stop or resume."""
        self.stops.labels(kind, "ok" if ok else "failed").inc()
