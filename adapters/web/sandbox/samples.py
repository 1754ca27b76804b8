"""Sample alerts in the real formats of five monitoring tools, for any system of the registry.

Alertmanager and Grafana samples are their webhook payloads, read by the same parsers as the
HTTP intake (`adapters.intake_formats`). Datadog, PagerDuty and Sentry post into chat, so their
samples are the Slack messages those integrations post, with the text a Slack channel reader
takes from them (tests check it against `adapters.slack.translate.message_text`, which this
module may not import: one platform's adapter never imports another's).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from adapters.intake_formats import IncomingAlert, parse_alertmanager, parse_grafana
from bot.events import AlertSeen
from bot.matching import status_of
from bot.registry import SystemView

Status = Literal["firing", "resolved"]
MAX_PASTED = 8000

TOOLS = {
    "alertmanager": "Prometheus Alertmanager",
    "grafana": "Grafana",
    "datadog": "Datadog",
    "pagerduty": "PagerDuty",
    "sentry": "Sentry",
}
# An alert about something the registry does not list: an unowned alert.
UNLISTED = ("forecast-service", "Demand forecaster")


@dataclass(frozen=True)
class Sample:
    """One alert as a tool delivers it, and what the bot reads from it."""

    source: str
    tool: str
    payload: dict[str, Any]
    title: str
    text: str
    status: Status
    delivery: str
    system: str | None = None
    fingerprint: str | None = None
    link: str | None = None

    def seen(self, *, platform: str, channel: str) -> AlertSeen:
        """The neutral event of this sample posted in `channel`."""
        return AlertSeen(
            platform=platform,
            channel=channel,
            text=self.text,
            event_id=f"sample:{self.delivery}",
            title=self.title,
            system=self.system,
            fingerprint=self.fingerprint,
            status=self.status,
            link=self.link,
            integration="sandbox:monitor",  # the samples play one monitoring integration
        )


def _slug(system: SystemView | None) -> tuple[str, str]:
    return (system.id, system.name) if system else UNLISTED


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("_", "-").split("-") if part)


def _hex(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _from_webhook(
    source: str, payload: dict[str, Any], parse: Callable[[Any], list[IncomingAlert]]
) -> Sample:
    (alert,) = parse(payload)
    return Sample(
        source=source,
        tool=TOOLS[source],
        payload=payload,
        title=alert.title,
        text=alert.text,
        status=alert.status,
        delivery=alert.delivery or uuid.uuid4().hex,
        system=alert.system,
        fingerprint=alert.fingerprint,
        link=alert.link,
    )


def alertmanager(system: SystemView | None, status: Status, now: datetime) -> Sample:
    """An Alertmanager webhook (version 4) with one alert, labelled with the system."""
    sid, name = _slug(system)
    labels = {"alertname": f"{_camel(sid)}ErrorRate", "job": sid, "severity": "critical"}
    if system is not None:
        labels["system"] = sid
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"{sid} 5xx ratio above 5% for 10 minutes",
            "description": f"{name} answered 7.2% of requests with an error over 10 minutes.",
            "runbook_url": f"https://runbooks.example.com/{sid}/errors",
        },
        "startsAt": now.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else now.isoformat(),
        "generatorURL": f"http://prometheus.example.com:9090/graph?g0.expr=job%3A{sid}_errors",
        "fingerprint": _hex("alertmanager", sid),
    }
    payload = {
        "receiver": "accountability-bot",
        "status": status,
        "alerts": [alert],
        "groupLabels": {"job": sid},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com:9093",
        "version": "4",
        "groupKey": f'{{}}:{{job="{sid}"}}',
        "truncatedAlerts": 0,
    }
    return _from_webhook("alertmanager", payload, parse_alertmanager)


def grafana(system: SystemView | None, status: Status, now: datetime) -> Sample:
    """A Grafana unified-alerting webhook with one alert."""
    sid, name = _slug(system)
    labels = {"alertname": f"{name} latency", "grafana_folder": "AI systems"}
    if system is not None:
        labels["system"] = sid
    word = "Firing" if status == "firing" else "Resolved"
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"{sid} p95 latency above 3s",
            "description": f"p95 latency of {name} is 4.2s (threshold 3s).",
        },
        "startsAt": now.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": f"https://grafana.example.com/alerting/grafana/{_hex(sid)[:9]}/view",
        "fingerprint": _hex("grafana", sid),
        "dashboardURL": f"https://grafana.example.com/d/{sid}?orgId=1",
        "panelURL": f"https://grafana.example.com/d/{sid}?orgId=1&viewPanel=2",
        "values": {"B": 4.2, "C": 1},
    }
    payload = {
        "receiver": "Accountability bot",
        "status": status,
        "orgId": 1,
        "alerts": [alert],
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "externalURL": "https://grafana.example.com/",
        "version": "1",
        "title": f"[{status.upper()}:1] {labels['alertname']}",
        "state": "alerting" if status == "firing" else "ok",
        "message": f"**{word}**\n\nValue: B=4.2\nLabels:\n - alertname = {labels['alertname']}",
    }
    return _from_webhook("grafana", payload, parse_grafana)


def _from_chat(
    source: str, message: dict[str, Any], lines: list[str], system: SystemView | None
) -> Sample:
    text = "\n".join(lines)
    # The chat integrations name no system: the bot finds it with the registry's match
    # rules. A system whose rules do not match its own id is named outright instead, so
    # every sample lands where the page says it will.
    named = system.id if system and not any(p.search(text) for p in system.match) else None
    return Sample(
        source=source,
        tool=TOOLS[source],
        payload=message,
        title=text.splitlines()[0].strip(" *_~`")[:200],
        text=text,
        status=status_of(text),
        delivery=uuid.uuid4().hex,
        system=named,
    )


def datadog(system: SystemView | None, status: Status, now: datetime) -> Sample:
    """The Slack message of a Datadog monitor."""
    sid, name = _slug(system)
    word = "Triggered" if status == "firing" else "Recovered"
    title = f"[P2] [{word} on {{env:prod}}] {sid} score latency above 2s"
    body = f"{name} answers slowly: p95 latency is 2.74s (threshold 2s). @slack-alerts"
    metric = f"Metric: `avg:{sid.replace('-', '_')}.latency.p95{{env:prod}}`"
    message = {
        "type": "message",
        "bot_id": "B0DATADOG1",
        "text": "",
        "attachments": [
            {
                "color": "danger" if status == "firing" else "good",
                "fallback": title,
                "title": title,
                "title_link": f"https://app.datadoghq.com/monitors/{int(now.timestamp())}",
                "text": f"{body}\n\n{metric}",
                "footer": "<https://app.datadoghq.com|Datadog>",
            }
        ],
    }
    return _from_chat("datadog", message, [title, body, "", metric], system)


def pagerduty(system: SystemView | None, status: Status, now: datetime) -> Sample:
    """The Slack message of a PagerDuty incident."""
    sid, _ = _slug(system)
    number = int(now.timestamp()) % 10000
    title = f"[#{number}] {sid}: error rate above 5%"
    state = "Triggered" if status == "firing" else "Resolved"
    message = {
        "type": "message",
        "bot_id": "B0PAGERDTY",
        "text": "",
        "attachments": [
            {
                "color": "#E01E5A" if status == "firing" else "#2EB67D",
                "fallback": title,
                "blocks": [
                    {
                        "type": "section",
                        "text": {
                            "type": "mrkdwn",
                            "text": f"*<https://acme.pagerduty.com/incidents/Q{number}|{title}>*",
                        },
                    },
                    {
                        "type": "section",
                        "fields": [
                            {"type": "mrkdwn", "text": f"*Status:*\n{state}"},
                            {"type": "mrkdwn", "text": "*Urgency:*\nHigh"},
                            {"type": "mrkdwn", "text": f"*Service:*\n{sid}"},
                        ],
                    },
                ],
            }
        ],
    }
    lines = [f"*{title}*", f"*Status:* {state}", "*Urgency:* High", f"*Service:* {sid}"]
    return _from_chat("pagerduty", message, lines, system)


def sentry(system: SystemView | None, status: Status, now: datetime) -> Sample:
    """The Slack message of a Sentry issue alert (Sentry resolves silently: a resolved
    sample says so in its first line)."""
    sid, name = _slug(system)
    lead = "Resolved: " if status == "resolved" else ""
    headline = f"{lead}[{sid}] ReadTimeout: upstream model timed out after 30s"
    issue = f"*ReadTimeout: {name} upstream timed out after 30s*"
    state = "State: *New*   First Seen: *now*"
    message = {
        "type": "message",
        "bot_id": "B0SENTRY01",
        "text": headline,
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":red_circle: <https://acme.sentry.io/issues/{_hex(sid)[:10]}/|"
                    f"{issue}>",
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": state}],
            },
        ],
    }
    return _from_chat("sentry", message, [headline, issue, state], system)


BUILDERS: dict[str, Callable[[SystemView | None, Status, datetime], Sample]] = {
    "alertmanager": alertmanager,
    "grafana": grafana,
    "datadog": datadog,
    "pagerduty": pagerduty,
    "sentry": sentry,
}


def pasted(text: str) -> Sample:
    """Text pasted on the page, posted as an integration would post it."""
    text = text.replace("\x00", "")[:MAX_PASTED].strip()
    return Sample(
        source="pasted",
        tool="Pasted alert",
        payload={"text": text},
        title=text.splitlines()[0][:200] if text else "alert",
        text=text,
        status=status_of(text),
        delivery=uuid.uuid4().hex,
    )
