"""Text at the boundary: capped, cleaned and turned into plain lines in linear time.

Every function here runs in time proportional to its (capped) input, whatever the input:
no pattern that can backtrack is used on it (the few patterns are RE2, whose matching is
linear by construction), and every text is cut to a cap before any other work.

Caps (characters, not bytes):

- `TEXT_CAP` (40,000): any text taken in from a platform or an intake. Slack refuses to post
  longer messages, so nothing a reader could have seen is lost.
- `MATCH_CAP` (16,384): the part of an alert's text that registry rules and the status-line
  search look at. Monitoring tools put the system's name and status in the first lines.
- `LINE_CAP` (1,024): the part of the first line used for the leading status word and the
  fingerprint.
"""

from __future__ import annotations

import html
from typing import Any

import re2

TEXT_CAP = 40_000
MATCH_CAP = 16_384
LINE_CAP = 1_024


def options(*, case_sensitive: bool = True) -> Any:
    """RE2 options for patterns run on input: UTF-8, no logging to stderr."""
    opts = re2.Options()
    opts.case_sensitive = case_sensitive
    opts.log_errors = False
    return opts


def clean(text: str, *, cap: int = TEXT_CAP) -> str:
    """Text that storage and RE2 accept: at most `cap` characters, NUL removed, and lone
    surrogates (a sender cutting an emoji in half) replaced by U+FFFD."""
    text = text[:cap]
    if "\x00" in text:
        text = text.replace("\x00", "")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16 a high+low pair becomes its character again; a lone half becomes
        # U+FFFD. One C-speed pass each way.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def utf8(text: str) -> bytes:
    """UTF-8 bytes of any str (lone surrogates as '?'), for RE2."""
    return text.encode("utf-8", "replace")


class NextIndex:
    """Where a character next occurs at or after a position, for a scan that only moves
    forward: each character's `str.find` resumes where the last one stopped, so a whole scan
    costs time linear in the text however many characters it watches."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._next: dict[str, int] = {}

    def __call__(self, char: str, start: int) -> int:
        """The index of `char` at or after `start`, or len(text) if there is none."""
        found = self._next.get(char, -1)
        if found < start:
            found = self._text.find(char, start)
            found = len(self._text) if found < 0 else found
            self._next[char] = found
        return found


def replace_all(regex: Any, repl: str, text: str) -> str:
    """`regex.sub(repl, text)` for an RE2 pattern that never matches the empty string,
    worked on UTF-8 bytes: the same result, without decoding offsets for every match."""
    data = utf8(text)
    pieces: list[bytes] = []
    copied = 0
    with_bytes = repl.encode("utf-8")
    for found in regex.finditer(data):
        start, end = found.span()
        pieces += (data[copied:start], with_bytes)
        copied = end
    if not pieces:
        return text
    pieces.append(data[copied:])
    return b"".join(pieces).decode("utf-8", "replace")


def first_line(text: str, *, cap: int = LINE_CAP) -> str:
    """The first line that is not blank, at most `cap` characters (a line is ended by the
    same characters as `str.splitlines`)."""
    for line in text[:MATCH_CAP].splitlines():
        if line.strip():
            return line[:cap]
    return ""


_BREAKS = ("br", "/p", "/div", "/li")


def _skip_space(value: str, i: int) -> int:
    while i < len(value) and value[i].isspace():
        i += 1
    return i


def _break_end(value: str, start: int) -> int:
    """The end of a line-breaking tag (`<br>`, `</p>`, `</div>`, `</li>`, `</hN>`, any case,
    spaces allowed) starting at `start`, or 0."""
    i = _skip_space(value, start + 1)
    head = value[i : i + 4].lower()
    for name in _BREAKS:
        if head.startswith(name):
            i += len(name)
            break
    else:
        if not (head.startswith("/h") and head[2:3].isdecimal()):
            return 0
        i += 3
    i = _skip_space(value, i)
    if value.startswith("/", i):
        i += 1
    return i + 1 if value.startswith(">", i) else 0


def _breaks_to_newlines(value: str) -> str:
    out: list[str] = []
    copied = 0
    start = value.find("<")
    while start >= 0:
        end = _break_end(value, start)
        if end:
            out += (value[copied:start], "\n")
            copied = end
            start = value.find("<", end)
        else:
            start = value.find("<", start + 1)
    out.append(value[copied:])
    return "".join(out)


def strip_tags(value: str) -> str:
    """Remove every `<...>` (at least one character inside, no `>`), as `<[^>]+>` would,
    in one pass: `<[^>]+>` itself costs quadratic time on a text of many `<`."""
    out: list[str] = []
    copied = 0
    start = value.find("<")
    while start >= 0:
        if value.startswith(">", start + 1):
            start = value.find("<", start + 2)  # `<>` is not a tag
            continue
        end = value.find(">", start + 1)
        if end < 0:
            break  # no `>` after this `<`: no tag anywhere after it either
        out.append(value[copied:start])
        copied = end + 1
        start = value.find("<", copied)
    out.append(value[copied:])
    return "".join(out)


def squeeze(line: str) -> str:
    """A line with runs of spaces and tabs made one space, then stripped."""
    return " ".join(part for part in line.replace("\t", " ").split(" ") if part).strip()


def html_to_text(value: str, *, cap: int = TEXT_CAP) -> str:
    """HTML as plain lines: line-breaking tags become new lines, other tags go, entities
    are decoded, non-breaking spaces become spaces, blank lines go."""
    value = clean(value, cap=cap)
    if "<" in value:
        value = strip_tags(_breaks_to_newlines(value))
    value = html.unescape(value).replace("\xa0", " ")
    lines = (squeeze(ln) for ln in value.splitlines())
    return "\n".join(ln for ln in lines if ln)
