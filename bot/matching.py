"""From alert text to a system, a fingerprint and a firing/resolved status.

Every pattern here is RE2 (linear time whatever the text) and runs over a capped part of
the text (`bot.text`): the first line up to `LINE_CAP` characters for the leading status and
the fingerprint, the first `MATCH_CAP` characters for rules and a `Status:` line.

The patterns spell Python's Unicode-aware classes out, so they read text as `re` did:
`W` (not a letter, digit or `_`), `S` (any Unicode space) and `\\p{Nd}` (a decimal digit).
A word boundary after a status word is written as "followed by `W` or the end".
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import re2

from bot.registry import ChannelId, Registry, SystemView
from bot.text import LINE_CAP, MATCH_CAP, clean, first_line, options, replace_all, utf8

Status = Literal["firing", "resolved"]

_W = r"[^\pL\pN_]"  # Python's \W
_S = r"[\s\v\x{1c}-\x{1f}\x{85}\pZ]"  # Python's \s
_D = r"\p{Nd}"  # Python's \d
_AFTER_WORD = rf"(?:{_W}|$)"  # a word boundary after a word character, for a search
# `[word\b[^\]]*\]`: the word, then `]` at once or a non-word character and anything up to `]`.
_TO_BRACKET = r"(?:\]|[^\pL\pN_\]][^\]]*\])"


def _compile(pattern: str) -> Any:
    return re2.compile(pattern, options(case_sensitive=False))


_RESOLVED = _compile(
    rf"^{_W}*(?:\[{_S}*resolved{_TO_BRACKET}|resolved{_AFTER_WORD}|recovered{_AFTER_WORD}"
    rf"|\[ok\]|ok{_AFTER_WORD}|✅)"
)
# A priority tag some tools put before the status ("[P1] [Triggered on {env:prod}] …").
_PRIORITY = _compile(rf"^{_W}*\[{_S}*p{_D}{_S}*\]{_S}*")
_FIRING = _compile(
    rf"^{_W}*(?:\[{_S}*(?:firing|alerting|triggered|re-?triggered|warn|warning|critical)"
    rf"{_TO_BRACKET}|(?:firing|alerting|triggered|re-?triggered){_AFTER_WORD})"
)
# A status field on a line of its own ("Status: Resolved"), for posts whose first line is a
# title without a status word (PagerDuty incident messages).
_STATUS_LINE = _compile(rf"(?m)^{_W}*(?:status|state){_W}*:{_W}*(?P<status>[\pL\pN_]+){_W}*$")
_STATUS_WORDS = _compile(
    rf"\[{_S}*(?:firing|resolved|alerting|ok|triggered|re-?triggered|warn(?:ing)?|critical"
    rf"|recovered)(?::{_S}*{_D}+)?(?:{_S}+on{_S}+[^\]]*)?{_S}*\]"
    rf"|^{_W}*(?:firing|resolved|alerting|triggered|recovered|re-?triggered)\b:?"
    rf"|\b(?:is|has){_S}+(?:firing|resolved|alerting|recovered|triggered)\b"
)
_VOLATILE = _compile(
    rf"{_D}{{4}}-{_D}{_D}-{_D}{_D}[t ]{_D}{_D}:{_D}{_D}(?::{_D}{_D}(?:\.{_D}+)?)?"
    rf"(?:z|[+-]{_D}{_D}:?{_D}{_D})?"  # timestamps
    r"|\b[0-9a-f]{8,}\b"  # ids and hashes
    rf"|{_D}+(?:\.{_D}+)?"  # numbers (values drift between repeats)
)


_ENDED = frozenset({"resolved", "recovered", "ok", "closed"})


class _WordChars(dict[int, int | None]):
    """`str.translate` table: word characters and `#` kept, the rest made a space."""

    def __missing__(self, code: int) -> int | None:
        char = chr(code)
        kept = char.isalnum() or char in "_#"
        self[code] = code if kept else 32
        return code if kept else 32


_WORDS = _WordChars()


def status_of(text: str) -> Status:
    """Whether an alert post announces a problem or its end: the leading status word of the
    first line (after a priority tag), else a `Status: …` line, else firing."""
    lead = text[:MATCH_CAP].strip()
    first = clean(lead.splitlines()[0], cap=LINE_CAP) if lead else ""
    data = utf8(first)
    if tag := _PRIORITY.search(data):
        data = data[tag.end() :]
    if _RESOLVED.search(data):
        return "resolved"
    if _FIRING.search(data):
        return "firing"
    found = _STATUS_LINE.search(utf8(text[:MATCH_CAP]))
    if found and found.group("status").decode().lower() in _ENDED:
        return "resolved"
    return "firing"


def fingerprint(text: str, *, system: str | None) -> str:
    """A stable id for "the same alert again": status words, numbers and times removed."""
    norm = replace_all(_STATUS_WORDS, " ", clean(first_line(text)).lower())
    norm = replace_all(_VOLATILE, "#", norm)
    norm = " ".join(norm.translate(_WORDS).split())
    return hashlib.sha256(f"{system or '-'}|{norm}".encode("utf-8", "replace")).hexdigest()[:24]


def match_system(registry: Registry, *, channel: ChannelId, text: str) -> SystemView | None:
    """The first system whose rules match, trying systems that list this channel first
    (the order of `Registry.match_order`), in one RE2 pass over the text."""
    hits = registry.matcher.systems(text)
    if not hits:
        return None
    listed = registry.listed_in(channel)
    winner = next((i for i in hits if i in listed), hits[0])
    return registry.ordered[winner]


SANDBOX = "web"  # the browser sandbox's platform (adapters/web/sandbox)


def registry_channel(registry: Registry, channel: ChannelId) -> ChannelId:
    """The registry channel a message's channel counts as. The browser sandbox shows each
    registry channel under its own id, so a sandbox post counts as posted there."""
    if channel.platform != SANDBOX:
        return channel
    return next((c for c in sorted(registry.watched(), key=str) if c.id == channel.id), channel)
