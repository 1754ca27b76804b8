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
_STATUS_WORDS = re.compile(
    r"\[\s*(firing|resolved|alerting|ok|triggered|warn(ing)?|critical|recovered)(:\s*\d+)?\s*\]"
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
    """Whether an alert post announces a problem or its end."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return "resolved" if _RESOLVED.search(first) else "firing"


def fingerprint(text: str, *, system: str | None) -> str:
    """A stable id for "the same alert again": status words, numbers and times removed."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    norm = _STATUS_WORDS.sub(" ", first.lower())
    norm = _VOLATILE.sub("#", norm)
    norm = re.sub(r"[^\w#]+", " ", norm).strip()
    return hashlib.sha256(f"{system or '-'}|{norm}".encode()).hexdigest()[:24]


def match_system(registry: Registry, *, channel: ChannelId, text: str) -> SystemView | None:
    """The first system whose rules match, trying systems that list this channel first."""
    listed = [s for s in registry.systems.values() if channel in s.channels]
    others = [s for s in registry.systems.values() if channel not in s.channels]
    for system in (*listed, *others):
        if any(p.search(text) for p in system.match):
            return system
    return None
