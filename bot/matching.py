"""From alert text to a system, a fingerprint and a firing/resolved status."""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from bot.registry import ChannelId, Registry, SystemView

Status = Literal["firing", "resolved"]

_RESOLVED = re.compile(
    r"^\W*(\[\s*resolved\b[^\]]*\]|resolved\b|recovered\b|\[ok\]|ok\b:?|✅)", re.IGNORECASE
)
# A priority tag some tools put before the status ("[P1] [Triggered on {env:prod}] …").
_PRIORITY = re.compile(r"^\W*\[\s*p\d\s*\]\s*", re.IGNORECASE)
_FIRING = re.compile(
    r"^\W*(\[\s*(firing|alerting|triggered|re-?triggered|warn(ing)?|critical)\b[^\]]*\]"
    r"|(firing|alerting|triggered|re-?triggered)\b)",
    re.IGNORECASE,
)
# A status field on a line of its own ("Status: Resolved"), for posts whose first line is a
# title without a status word (PagerDuty incident messages).
_STATUS_LINE = re.compile(
    r"^\W*(status|state)\W*:\W*(?P<status>\w+)\W*$", re.IGNORECASE | re.MULTILINE
)
_STATUS_WORDS = re.compile(
    r"\[\s*(firing|resolved|alerting|ok|triggered|re-?triggered|warn(ing)?|critical|recovered)"
    r"(:\s*\d+)?(\s+on\s+[^\]]*)?\s*\]"
    r"|^\W*(firing|resolved|alerting|triggered|recovered|re-?triggered)\b:?"
    r"|\b(is|has)\s+(firing|resolved|alerting|recovered|triggered)\b",
    re.IGNORECASE,
)
_VOLATILE = re.compile(
    r"\d{4}-\d\d-\d\d[t ]\d\d:\d\d(:\d\d(\.\d+)?)?(z|[+-]\d\d:?\d\d)?"  # timestamps
    r"|\b[0-9a-f]{8,}\b"  # ids and hashes
    r"|\d+(\.\d+)?",  # numbers (values drift between repeats)
    re.IGNORECASE,
)


def status_of(text: str) -> Status:
    """Whether an alert post announces a problem or its end: the leading status word of the
    first line (after a priority tag), else a `Status: …` line, else firing."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = _PRIORITY.sub("", first)
    if _RESOLVED.search(first):
        return "resolved"
    if _FIRING.search(first):
        return "firing"
    found = _STATUS_LINE.search(text)
    if found and found.group("status").lower() in ("resolved", "recovered", "ok", "closed"):
        return "resolved"
    return "firing"


def fingerprint(text: str, *, system: str | None) -> str:
    """A stable id for "the same alert again": status words, numbers and times removed."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    norm = _STATUS_WORDS.sub(" ", first.lower())
    norm = _VOLATILE.sub("#", norm)
    norm = re.sub(r"[^\w#]+", " ", norm).strip()
    return hashlib.sha256(f"{system or '-'}|{norm}".encode()).hexdigest()[:24]


def match_system(registry: Registry, *, channel: ChannelId, text: str) -> SystemView | None:
    """The first system whose rules match, trying systems that list this channel first."""
    for system in registry.match_order(channel):
        if any(p.search(text) for p in system.match):
            return system
    return None
