"""Registry `match` rules compiled with RE2, and one matcher that runs all of them at once.

RE2 matches in time linear in the text whatever the pattern, so no rule (and no alert text)
can stall the process. All systems' rules go into one `re2.Set`: a single pass over the text
says which rules match, instead of one search per rule per system.

RE2 is not Python's `re`: no backreferences, look-ahead or look-behind, possessive or atomic
groups; `\\Z` is written `\\z`, and `$` matches only at the end of the text (Python's also
matches before a final newline). `\\w`, `\\d`, `\\s` and `\\b` are ASCII; write `\\pL`,
`\\p{Nd}` for other scripts. Rules are case-insensitive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from bot.text import MATCH_CAP, options, utf8

log = logging.getLogger(__name__)

# Memory RE2 may use for the combined program and its DFA cache. The default (8 MiB) is
# sized for one pattern; a Set of thousands of rules needs more room to stay fast.
SET_MEMORY = 64 << 20

_HINTS = (
    ("\\Z", "RE2 writes the end of the text as \\z"),
    ("(?=", "look-ahead is not supported"),
    ("(?!", "look-ahead is not supported"),
    ("(?<=", "look-behind is not supported"),
    ("(?<!", "look-behind is not supported"),
    ("(?>", "atomic groups are not supported"),
)


class RuleError(ValueError):
    """A match rule RE2 cannot run; the message says why."""


def _reason(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    if isinstance(exc.args[0] if exc.args else None, bytes):
        text = exc.args[0].decode("utf-8", "replace")
    return text


def _hint(pattern: str, reason: str) -> str:
    if "escape sequence: \\" in reason and reason[-1:].isdigit():
        return f"{reason} (backreferences are not supported)"
    for needle, hint in _HINTS:
        if needle in pattern:
            return f"{reason} ({hint})"
    return reason


@dataclass(frozen=True)
class Rule:
    """One compiled `match` rule; equal to another with the same pattern."""

    pattern: str
    regex: Any = field(compare=False, repr=False)

    def search(self, text: str) -> bool:
        """Whether the rule matches anywhere in the first `MATCH_CAP` characters."""
        return self.regex.search(utf8(text[:MATCH_CAP])) is not None


def compile_rule(pattern: str) -> Rule:
    """Compile one rule, case-insensitive; raise RuleError if RE2 cannot run it."""
    try:
        return Rule(pattern, re2.compile(pattern, options(case_sensitive=False)))
    except re2.error as exc:
        raise RuleError(_hint(pattern, _reason(exc))) from exc


class Matcher:
    """Every rule of every system in one RE2 Set.

    `systems(text)` answers, in one linear pass over at most `MATCH_CAP` characters, the
    indexes of the systems with at least one matching rule.
    """

    def __init__(self, rules: Iterable[tuple[int, Rule]]) -> None:
        opts = options(case_sensitive=False)
        opts.max_mem = SET_MEMORY
        self._set = re2.Set.SearchSet(opts)
        # Entry 0 matches every text: when RE2 gives up (its DFA out of memory) it answers
        # "nothing matched", and the missing sentinel tells that apart from a real miss.
        self._set.Add("")
        self._owner: list[int] = [-1]
        self._rules: list[tuple[int, Rule]] = []
        for index, rule in rules:
            try:
                self._set.Add(rule.pattern)
            except re2.error as exc:
                raise RuleError(_hint(rule.pattern, _reason(exc))) from exc
            self._owner.append(index)
            self._rules.append((index, rule))
        try:
            self._set.Compile()
        except re2.error as exc:
            raise RuleError(
                f"the {len(self._rules)} match rules together are too large for RE2"
                f" ({SET_MEMORY >> 20} MiB); make them simpler"
            ) from exc

    def __len__(self) -> int:
        return len(self._rules)

    def systems(self, text: str) -> Sequence[int]:
        """Indexes of the systems whose rules match `text`, smallest first."""
        data = utf8(text[:MATCH_CAP])
        hits = self._set.Match(data) or ()
        if 0 not in hits:
            log.warning("the match rule set gave up on a text; matching rule by rule")
            return sorted({i for i, rule in self._rules if rule.regex.search(data) is not None})
        return sorted({self._owner[h] for h in hits if h})
