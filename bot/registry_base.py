"""What every part of the registry loader shares: durations, located problems, the map from a
YAML path to its line, and the check that a field names one person."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict

GROUP_WORDS = frozenset(
    {"", "team", "the team", "everyone", "all", "@channel", "@here", "@everyone"}
)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")  # registry text only, never input
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LONGEST = 3650 * 86400


def parse_duration(value: Any) -> timedelta:
    """Parse `90s`, `15m`, `2h`, `7d` or `2w` (or a number of seconds) into a timedelta."""
    seconds: float | None = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and len(value) < 40 and (m := _DURATION.match(value)):
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    # Ten years bounds every duration a registry means; larger numbers overflow timedelta.
    if seconds is not None and 0 <= seconds <= _LONGEST:
        return timedelta(seconds=seconds)
    raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 2h, 7d; at most 3650d)")


def format_duration(value: timedelta) -> str:
    """Render a timedelta in the registry's own notation, largest whole unit first."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Model(BaseModel):
    """A registry section: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Problem:
    """One registry error or warning, located as precisely as the file allows."""

    file: str
    message: str
    system: str | None = None
    field: str | None = None
    line: int | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        what = " ".join(
            part
            for part in (
                f"system {self.system!r}" if self.system else "",
                f"field {self.field!r}" if self.field else "",
            )
            if part
        )
        return f"{where}: {self.severity}: {what + ': ' if what else ''}{self.message}"


class RegistryError(Exception):
    """The registry file cannot be used; `problems` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Lines:
    """Maps a path of keys in the YAML document to the line it starts on (1-based).

    Built lazily: a valid registry with no warnings never pays for the node tree, which for
    ten thousand systems costs more time and memory than the registry itself.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: dict[tuple[Any, ...], int] | None = None

    def _build(self) -> dict[tuple[Any, ...], int]:
        self._lines = {}
        try:
            node = yaml.compose(self._text, Loader=LOADER)
        except yaml.YAMLError:
            node = None
        if node is not None:
            self._walk(node, ())
        return self._lines

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        assert self._lines is not None
        # A key's own line beats the line where its value starts.
        self._lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                k = key.value
                self._lines[(*path, k)] = key.start_mark.line + 1
                self._walk(value, (*path, k))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def line(self, path: tuple[Any, ...]) -> int | None:
        """The line of the deepest known prefix of `path`."""
        lines = self._lines if self._lines is not None else self._build()
        for end in range(len(path), -1, -1):
            if (found := lines.get(path[:end])) is not None:
                return found
        return None


class Checker:
    """Collects the located errors and warnings of one registry file."""

    def __init__(self, source: str, text: str, people: dict[str, Any] | None = None) -> None:
        self.source = source
        self.lines = Lines(text)
        self.people: dict[str, Any] = people or {}
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def where(self, path: tuple[Any, ...]) -> dict[str, Any]:
        """file / system / field / line of a YAML path, for a Problem."""
        system = str(path[1]) if len(path) > 1 and path[0] == "systems" else None
        fld: str | None
        if system is not None:
            fld = ".".join(str(p) for p in path[2:]) or None
        else:
            fld = ".".join(str(p) for p in path) or None
        return {"file": self.source, "system": system, "field": fld, "line": self.lines.line(path)}

    def error(self, path: tuple[Any, ...], message: str, **override: Any) -> None:
        """Record an error at `path`."""
        self.problems.append(Problem(message=message, **{**self.where(path), **override}))

    def warn(self, path: tuple[Any, ...], message: str) -> None:
        """Record a warning at `path`."""
        self.warnings.append(Problem(message=message, severity="warning", **self.where(path)))

    def from_pydantic(self, err: Any) -> Problem:
        """A pydantic validation error as a located Problem."""
        # pydantic adds the validator's class or union branch to `loc`; people want the path.
        path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper()))
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a known field"
        return Problem(message=message, **self.where(path))

    def person(self, key: Any, path: tuple[Any, ...], what: str) -> bool:
        """One named person from `people`; no group stand-ins, blanks or lists."""
        people = self.people
        if isinstance(key, str) and key in people and not people[key].group:
            return True
        if isinstance(key, list):
            self.error(path, f"one named person holds the {what} role, not a list ({key!r})")
        elif not isinstance(key, str) or key.strip().lower() in GROUP_WORDS:
            shown = "blank" if key is None or not str(key).strip() else repr(key)
            self.error(path, f"{shown} is not a person; name one person from `people`")
        elif key not in people:
            self.error(path, f"{what} {key!r} is not a key of `people`")
        else:
            self.error(path, f"{what} {key!r} is marked `group: true`; name one person")
        return False
