"""Slack mrkdwn as plain text, for matching alerts: links to their labels, broadcasts
dropped, entities decoded, leading emoji shortcodes removed.

Plain forward scans, linear in the text: it comes from anyone who can post in a watched
channel, and even RE2 through Python costs tens of microseconds per match on a text of
13,000 links.
"""

from __future__ import annotations

import html

from bot.text import NextIndex, clean

_SHORTCODE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+'-")


def _link_text(target: str, label: str | None) -> str:
    if target.startswith("!"):
        # <!here>, <!channel>: noise for matching; <!date^…|fallback>, <!subteam^…|@x>: label
        return label or ""
    return label or target


def _links(text: str) -> str:
    r"""Each `<target>` or `<target|label>` (no `<`, `>` in either, no `|` in the target) as
    its text, as `re.sub(r"<([^<>|]*)(?:\|([^<>]*))?>", ...)` would, in one pass."""
    after = NextIndex(text)
    out: list[str] = []
    copied, start, n = 0, after("<", 0), len(text)
    while start < n:
        stop = min(after("<", start + 1), after(">", start + 1), after("|", start + 1))
        if stop < n and text[stop] == ">":
            out += (text[copied:start], _link_text(text[start + 1 : stop], None))
            copied = stop + 1
        elif stop < n and text[stop] == "|":
            end = min(after("<", stop + 1), after(">", stop + 1))
            if end < n and text[end] == ">":
                label = text[stop + 1 : end]
                out += (text[copied:start], _link_text(text[start + 1 : stop], label))
                copied = stop = end + 1
        start = after("<", max(stop, start + 1))
    out.append(text[copied:])
    return "".join(out)


def plain(text: str) -> str:
    """Slack mrkdwn as plain text: links to their labels, broadcasts dropped, entities decoded,
    a leading emoji shortcode removed (status words often follow one)."""
    out = clean(text)
    out = html.unescape(_links(out) if "<" in out else out)
    return "\n".join(_without_emoji(line).rstrip() for line in out.splitlines())


def _skip_space(line: str, i: int) -> int:
    while i < len(line) and line[i].isspace():
        i += 1
    return i


def _without_emoji(line: str) -> str:
    """The line without its leading `:shortcode:`s (and the spaces around them)."""
    if ":" not in line:
        return line
    i, cut = _skip_space(line, 0), 0
    while line.startswith(":", i):
        j = i + 1
        while j < len(line) and line[j] in _SHORTCODE:
            j += 1
        if j == i + 1 or not line.startswith(":", j):
            break
        i = cut = _skip_space(line, j + 1)
    return line[cut:]
