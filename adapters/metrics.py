"""Prometheus metrics, kept in one registry per process (tests build their own)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
            "accountability_open_alerts",
            "Alerts not yet resolved, by system (read from the database at each scrape)",
            ["system"],
            registry=r,
        )
        self.escalations_deferred = Counter(
            "accountability_escalations_deferred_total",
            "Escalation direct messages kept due because the platform failed (retried)",
            registry=r,
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
        for platform in ("slack", "teams"):
            self.rate_limited.labels(platform)  # a zero is an answer; a missing series is not
        self.stale_digests = Counter(
            "accountability_stale_digests_total",
            "Stale-ownership digests delivered",
            registry=r,
        )
        self.registry_reloads = Counter(
            "accountability_registry_reloads_total",
            "Registry reloads, by result (applied or refused)",
            ["result"],
            registry=r,
        )
        for result in ("applied", "refused"):
            self.registry_reloads.labels(result)

    def set_open_alerts(self, counts: Mapping[str | None, int], *, systems: Iterable[str]) -> None:
        """Replace the open-alert gauge: every known system (0 when none) plus `unowned`."""
        self.open_alerts.clear()
        for name in systems:
            self.open_alerts.labels(name).set(0)
        self.open_alerts.labels("unowned").set(0)
        for system, count in counts.items():
            self.open_alerts.labels(system or "unowned").set(count)

    # bot.ports.Observer

    def alert_taken(self, *, system: str | None, outcome: str) -> None:
        """Count an inbound alert."""
        self.alerts.labels(system or "unowned", outcome).inc()
        if outcome == "unowned":
            self.unowned.inc()

    def escalation_sent(self) -> None:
        """Count a sent step."""
        self.escalations.inc()

    def escalation_deferred(self) -> None:
        """Count a step kept due because the platform failed."""
        self.escalations_deferred.inc()

    def acknowledged(self, *, seconds: float) -> None:
        """Observe acknowledgement latency."""
        self.ack_latency.observe(seconds)

    def stop_ran(self, *, kind: str, ok: bool) -> None:
        """Count a stop or resume."""
        self.stops.labels(kind, "ok" if ok else "failed").inc()
