"""Pure parsers for the HTTP alert intake: Prometheus Alertmanager (webhook version 4),
Grafana unified alerting and the bot's own small JSON format, each into `IncomingAlert`
records. No I/O and no registry here: `adapters.intake` decides where each alert goes.

A payload of the wrong shape raises `PayloadError` naming the field as the sender wrote it
(`alerts.0.status`), because the person fixing an alert router reads the 400 in its log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adapters.inbound import Malformed, load_json

Source = Literal["alertmanager", "grafana", "generic"]
Status = Literal["firing", "resolved"]

MAX_TITLE = 200
MAX_LINK = 2000
M = TypeVar("M", bound=BaseModel)


class PayloadError(Exception):
    """The body is not JSON, or not of the shape the endpoint takes."""

    def __init__(self, field: str, reason: str, *, errors: list[dict[str, str]] | None = None):
        self.field = field
        self.reason = reason
        self.errors = errors or [{"field": field, "reason": reason}]
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class IncomingAlert:
    """One alert of a delivery, before it is routed to a system and a channel.

    `text` is what the registry's match rules read (alert name, summary, description).
    `delivery` identifies this notification of this alert, so a retried delivery is taken
    once; None means the sender gave nothing stable and every POST counts as new.
    """

    source: Source
    title: str
    text: str
    status: Status
    delivery: str | None
    system: str | None = None
    fingerprint: str | None = None
    link: str | None = None


# ---- the three shapes ------------------------------------------------------------------------


class _Lenient(BaseModel):
    # Monitoring tools add fields between releases; only what we read is checked.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _MonitorAlert(_Lenient):
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    starts_at: str = Field(alias="startsAt", min_length=1)
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str | None = Field(default=None, max_length=64)


class AlertmanagerPayload(_Lenient):
    """Alertmanager's webhook body (`version: "4"`); one group of alerts."""

    version: str
    status: Status | None = None
    alerts: list[_MonitorAlert] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _version_4(cls, value: str) -> str:
        if value != "4":
            raise ValueError(
                f'is {value!r}; this endpoint takes Alertmanager\'s webhook version "4"'
                " (Grafana posts to /alerts/grafana)"
            )
        return value


class _GrafanaAlert(_MonitorAlert):
    dashboard_url: str = Field(default="", alias="dashboardURL")
    panel_url: str = Field(default="", alias="panelURL")


class GrafanaPayload(_Lenient):
    """Grafana unified alerting's webhook body (Alertmanager-like, `version: "1"`)."""

    status: Status | None = None
    alerts: list[_GrafanaAlert] = Field(min_length=1)


class GenericAlert(BaseModel):
    """The bot's own format, one alert per POST (see README "Alert intake over HTTP")."""

    # Strict about unknown keys: a misspelt `fingerprnt` should be a 400, not ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=1000)
    text: str = Field(max_length=100_000)
    status: Status
    system: str | None = Field(default=None, min_length=1, max_length=255)
    fingerprint: str | None = Field(default=None, min_length=1, max_length=64)
    link: str | None = Field(default=None, max_length=MAX_LINK)
    id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("link")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        if value is not None and not _is_web_link(value):
            raise ValueError("must be an http:// or https:// URL")
        return value


# ---- parsing ---------------------------------------------------------------------------------


def decode(body: bytes) -> Any:
    """The JSON value of a request body, nesting bounded and every string storable;
    PayloadError when it is not JSON or nests too deep."""
    try:
        return load_json(body)
    except Malformed as exc:
        raise PayloadError("(body)", str(exc)) from exc


def parse_alertmanager(data: Any) -> list[IncomingAlert]:
    """Each alert of an Alertmanager group, taken on its own."""
    payload = _validate(AlertmanagerPayload, data)
    return [
        _monitor_alert("alertmanager", a, link=_first_link(a.generator_url)) for a in payload.alerts
    ]


def parse_grafana(data: Any) -> list[IncomingAlert]:
    """Each alert of a Grafana notification, taken on its own."""
    payload = _validate(GrafanaPayload, data)
    return [
        _monitor_alert(
            "grafana", a, link=_first_link(a.panel_url, a.dashboard_url, a.generator_url)
        )
        for a in payload.alerts
    ]


def parse_generic(data: Any) -> list[IncomingAlert]:
    """The one alert of a generic POST."""
    alert = _validate(GenericAlert, data)
    return [
        IncomingAlert(
            source="generic",
            title=_clip(alert.title),
            text=f"{alert.title}\n{alert.text}" if alert.text else alert.title,
            status=alert.status,
            delivery=_digest("generic", alert.id, alert.status) if alert.id else None,
            system=alert.system,
            fingerprint=alert.fingerprint,
            link=alert.link,
        )
    ]


def _monitor_alert(source: Source, alert: _MonitorAlert, *, link: str | None) -> IncomingAlert:
    name = alert.labels.get("alertname", "").strip()
    summary = alert.annotations.get("summary", "").strip()
    description = alert.annotations.get("description", "").strip()
    title = f"{name}: {summary}" if name and summary else name or summary or "alert"
    # Alertmanager fingerprints the label set; older senders omit it, so do the same.
    fp = alert.fingerprint or _digest(*(f"{k}={v}" for k, v in sorted(alert.labels.items())))[:16]
    return IncomingAlert(
        source=source,
        title=_clip(title),
        text="\n".join(part for part in (name, summary, description) if part) or title,
        status=alert.status,
        # Retries and re-notifications of one firing repeat all of these; a new firing of
        # the same alert has a new startsAt.
        delivery=_digest(source, fp, alert.status, alert.starts_at),
        system=alert.labels.get("system", "").strip() or None,
        fingerprint=fp,
        link=link,
    )


def _validate(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise PayloadError("(body)", "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": _field(err["loc"]), "reason": _reason(err)}
            for err in exc.errors(include_url=False)
        ]
        first = errors[0]
        raise PayloadError(first["field"], first["reason"], errors=errors) from exc


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def _reason(err: Any) -> str:
    if err["type"] == "missing":
        return "is required"
    if err["type"] == "extra_forbidden":
        return "is not a field of this format"
    return str(err["msg"]).removeprefix("Value error, ")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _clip(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def _is_web_link(value: str) -> bool:
    return value.startswith(("http://", "https://")) and len(value) <= MAX_LINK


def _first_link(*candidates: str) -> str | None:
    # A link that is not http(s) would be a clickable `javascript:` in a card: drop it.
    return next((c for c in candidates if c and _is_web_link(c)), None)
