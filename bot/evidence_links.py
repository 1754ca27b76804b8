"""Evidence links of the accountability contract, filled from an alert: `{name}` placeholders
replaced in one linear pass with percent-encoded values (never str.format on registry text)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta
from urllib.parse import quote

from bot.domain import Alert

MAX_TEMPLATE = 2000
MAX_PLACEHOLDER = 64
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-[]")


def fill_link(template: str, values: Mapping[str, str]) -> str | None:
    """Fill `{name}` placeholders in one left-to-right pass (no format mini-language, no
    attribute access, no backtracking); values are percent-encoded. None when the template
    is not an http(s) URL, is too long, or names a value the alert does not carry."""
    if len(template) > MAX_TEMPLATE or not template.startswith(("https://", "http://")):
        return None
    out: list[str] = []
    i = 0
    while True:
        start = template.find("{", i)
        if start < 0:
            out.append(template[i:])
            return "".join(out)
        end = template.find("}", start + 1, start + 2 + MAX_PLACEHOLDER)
        name = template[start + 1 : end] if end > 0 else ""
        if not name or not set(name) <= _NAME_CHARS or name not in values:
            return None
        out.append(template[i:start])
        out.append(quote(values[name], safe=""))
        i = end + 1


def link_values(alert: Alert, labels: Mapping[str, str]) -> dict[str, str]:
    """What an evidence template may use: the registry's fields (`system`, `alert_id`,
    `fingerprint`, `started_at`, `started_at_ms`, `labels[NAME]`) and, besides, `opened_at`,
    `resolved_at`, `from`/`to` (epoch ms, an hour before opening to an hour after
    resolving) and `label.NAME`."""
    end = alert.resolved_at or alert.opened_at
    values = {
        "system": alert.system or "",
        "alert_id": str(alert.id),
        "fingerprint": alert.fingerprint,
        "opened_at": alert.opened_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "started_at": alert.opened_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "started_at_ms": str(int(alert.opened_at.timestamp() * 1000)),
        "resolved_at": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "from": str(int((alert.opened_at - timedelta(hours=1)).timestamp() * 1000)),
        "to": str(int((end + timedelta(hours=1)).timestamp() * 1000)),
    }
    for k, v in labels.items():
        if len(k) <= 48:
            values[f"label.{k}"] = values[f"labels[{k}]"] = v
    return values
