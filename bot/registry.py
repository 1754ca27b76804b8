"""The ownership registry: pydantic models of the YAML file, its loader and its rules.

Every failure names the file, the system, the field and (where the YAML parser knows it) the
line, because the people who fix a registry read the message in a CI log, not in a debugger.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from bot.rules import Matcher, Rule, RuleError, compile_rule

ROLES = ("operator", "maintainer", "steward")
GROUP_WORDS = frozenset(
    {"", "team", "the team", "everyone", "all", "@channel", "@here", "@everyone"}
)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Parse `90s`, `15m`, `2h`, `7d` or `2w` (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 2h, 7d)")


def format_duration(value: timedelta) -> str:
    """Render a timedelta in the registry's own notation, largest whole unit first."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Model):
    """A named human; platform ids are optional and resolved from the email when absent."""

    name: str
    email: str
    slack: str | None = None
    teams: str | None = None
    group: bool = False

    @model_validator(mode="after")
    def _named(self) -> Person:
        if not self.name.strip():
            raise ValueError("name is blank")
        if "@" not in self.email:
            raise ValueError(f"email {self.email!r} is not an email address")
        return self


class Step(_Model):
    """One escalation step: whom to notify (a role or a person key) and after how long."""

    notify: str
    after: Duration


class WebhookAction(_Model):
    """POST to a URL; the body is signed with HMAC-SHA256 using the secret in `secret_env`."""

    url: str
    secret_env: str | None = None
    timeout: Duration = timedelta(seconds=10)


class CommandAction(_Model):
    """Run an argv list (never a shell string) with a timeout."""

    command: list[str]
    timeout: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _argv(self) -> CommandAction:
        if not self.command or not all(isinstance(a, str) and a for a in self.command):
            raise ValueError("command must be a non-empty list of strings (argv, no shell)")
        return self


def _argv(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            "command must be an argv list such as [scripts/flag, set, x, 'off'],"
            " never a shell string"
        )
    return value


class Action(_Model):
    """A stop or resume action: exactly one of webhook or command."""

    webhook: WebhookAction | None = None
    command: Annotated[list[str] | None, BeforeValidator(_argv)] = None
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> Action:
        if (self.webhook is None) == (self.command is None):
            raise ValueError("give exactly one of `webhook` or `command`")
        if self.command is not None:
            CommandAction(command=self.command)
        return self

    def resolved(self) -> WebhookAction | CommandAction:
        """The concrete action, with the shared `timeout` applied."""
        if self.webhook is not None:
            if self.timeout is not None:
                return self.webhook.model_copy(update={"timeout": self.timeout})
            return self.webhook
        assert self.command is not None
        if self.timeout is not None:
            return CommandAction(command=self.command, timeout=self.timeout)
        return CommandAction(command=self.command)


AckPolicy = Literal["chain", "anyone"]


class Defaults(_Model):
    """Registry-wide defaults that systems may override."""

    review_every: Duration = timedelta(days=90)
    ack_by: AckPolicy = "chain"
    escalation: list[Step] = []


@dataclass(frozen=True)
class ChannelId:
    """A chat channel on one platform."""

    platform: str
    id: str

    def __str__(self) -> str:
        return self.id if self.platform == "slack" else f"teams:{self.id}"


def _channel(value: Any) -> ChannelId:
    if isinstance(value, ChannelId):
        return value
    if isinstance(value, str) and value.strip():
        return ChannelId("slack", value.strip())
    if isinstance(value, dict) and len(value) == 1:
        ((platform, cid),) = value.items()
        if platform in ("slack", "teams") and isinstance(cid, str) and cid.strip():
            return ChannelId(platform, cid.strip())
    raise ValueError(f"not a channel: {value!r} (a Slack id, or {{teams: '19:...'}})")


ChannelField = Annotated[ChannelId, BeforeValidator(_channel)]


class WatchedChannel(_Model):
    """A channel the bot watches, with the person who holds alerts no system claims."""

    slack: str | None = None
    teams: str | None = None
    fallback: str | None = None

    @model_validator(mode="after")
    def _one(self) -> WatchedChannel:
        if (self.slack is None) == (self.teams is None):
            raise ValueError("give exactly one of `slack` or `teams`")
        return self

    @property
    def channel(self) -> ChannelId:
        """The platform and id of this channel."""
        if self.slack is not None:
            return ChannelId("slack", self.slack)
        assert self.teams is not None
        return ChannelId("teams", self.teams)


class System(_Model):
    """One production system and the named people who hold it."""

    name: str | None = None
    description: str | None = None
    operator: Any = None
    maintainer: Any = None
    steward: Any = None
    stop_authority: Any = None
    review_every: Duration | None = None
    ack_by: AckPolicy | None = None
    match: list[str] = []
    channels: list[ChannelField] = []
    escalation: list[Step] | None = None
    stop: Action | None = None
    resume: Action | None = None


class RegistryModel(_Model):
    """The raw shape of the YAML file, before the cross-reference rules."""

    version: Literal[1] = 1
    people: dict[str, Person]
    admins: list[str] = []
    defaults: Defaults = Defaults()
    channels: list[WatchedChannel] = []
    systems: dict[str, System]


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


@dataclass(frozen=True)
class EscalationEntry:
    """A resolved escalation step: the person's key, the role label, and the delay."""

    person: str
    label: str
    after: timedelta


@dataclass(frozen=True)
class SystemView:
    """A system with every default applied and every role resolved to a person key."""

    id: str
    name: str
    description: str | None
    operator: str
    maintainer: str
    steward: str
    stop_authority: str
    review_every: timedelta
    ack_by: AckPolicy
    match: tuple[Rule, ...]
    channels: tuple[ChannelId, ...]
    escalation: tuple[EscalationEntry, ...]
    stop: WebhookAction | CommandAction | None
    resume: WebhookAction | CommandAction | None

    def roles(self) -> dict[str, str]:
        """Role name -> person key, stop authority included."""
        return {
            "operator": self.operator,
            "maintainer": self.maintainer,
            "steward": self.steward,
            "stop_authority": self.stop_authority,
        }

    def named_people(self) -> frozenset[str]:
        """Everyone the `chain` policy lets act on this system's alerts."""
        return frozenset(self.roles().values()) | {e.person for e in self.escalation}


@dataclass(frozen=True)
class Registry:
    """A validated registry: people, systems, channels and admins, plus its warnings."""

    source: str
    people: dict[str, Person]
    systems: dict[str, SystemView]
    channels: tuple[WatchedChannel, ...]
    admins: tuple[str, ...]
    warnings: tuple[Problem, ...] = field(default=())
    source_text: str = field(default="", repr=False)
    matcher: Matcher = field(default_factory=lambda: Matcher(()), compare=False, repr=False)

    @functools.cached_property
    def version(self) -> str:
        """sha256 (hex) of the exact text this registry was loaded from: the store keeps each
        version, and a review re-loads the registry as it was."""
        return hashlib.sha256(self.source_text.encode("utf-8", "surrogatepass")).hexdigest()

    @functools.cached_property
    def ordered(self) -> tuple[SystemView, ...]:
        """Systems in file order; the matcher answers indexes into this tuple."""
        return tuple(self.systems.values())

    def system(self, system_id: str) -> SystemView | None:
        """The system with this id, or None."""
        return self.systems.get(system_id)

    def watched(self) -> frozenset[ChannelId]:
        """Every channel the bot watches: the top-level list and every system's channels."""
        return self._watched

    @functools.cached_property
    def _watched(self) -> frozenset[ChannelId]:
        # Asked on every inbound message: computed once per registry, not per event.
        return frozenset({c.channel for c in self.channels} | set(self._listing))

    @functools.cached_property
    def _listing(self) -> dict[ChannelId, tuple[SystemView, ...]]:
        found: dict[ChannelId, list[SystemView]] = {}
        for s in self.systems.values():
            for c in s.channels:
                found.setdefault(c, []).append(s)
        return {c: tuple(systems) for c, systems in found.items()}

    def match_order(self, channel: ChannelId) -> tuple[SystemView, ...]:
        """Systems in the order alert text is matched against them: those that list this
        channel first, then the rest. Cached per channel: alerts arrive in bursts."""
        cache = self.__dict__.setdefault("_match_order", {})
        order: tuple[SystemView, ...] | None = cache.get(channel)
        if order is None:
            listed = self._listing.get(channel, ())
            order = listed + tuple(s for s in self.systems.values() if s not in listed)
            cache[channel] = order
        return order

    def listed_in(self, channel: ChannelId) -> frozenset[int]:
        """Indexes (into `ordered`) of the systems that list this channel. Cached per channel."""
        cache = self.__dict__.setdefault("_listed_in", {})
        found: frozenset[int] | None = cache.get(channel)
        if found is None:
            listed = {s.id for s in self._listing.get(channel, ())}
            found = frozenset(i for i, s in enumerate(self.ordered) if s.id in listed)
            cache[channel] = found
        return found

    def fallback_for(self, channel: ChannelId) -> str | None:
        """The fallback owner of a watched channel, if the registry names one."""
        for c in self.channels:
            if c.channel == channel:
                return c.fallback
        return None


class _Lines:
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
            node = yaml.compose(self._text, Loader=_LOADER)
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


def load_registry(path: str | Path) -> Registry:
    """Read, parse and validate a registry file; raise RegistryError naming every problem."""
    name = str(path)
    try:
        # Bytes, not read_text: newline translation would change the text (and its version).
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise RegistryError([Problem(name, f"cannot read the file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise RegistryError([Problem(name, f"the file is not UTF-8 text: {exc}")]) from exc
    return parse_registry(text, source=name)


def parse_registry(text: str, *, source: str) -> Registry:
    """Validate registry YAML text; `source` is the name used in messages."""
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RegistryError([Problem(source, f"not valid YAML: {exc}", line=line)]) from exc
    if not isinstance(data, dict):
        raise RegistryError([Problem(source, "the file must be a mapping with people and systems")])
    lines = _Lines(text)
    try:
        model = RegistryModel.model_validate(data)
    except ValidationError as exc:
        raise RegistryError([_from_pydantic(err, source, lines) for err in exc.errors()]) from exc
    return _cross_check(model, source, lines, text)


def _locate(path: tuple[Any, ...], source: str, lines: _Lines) -> dict[str, Any]:
    system = str(path[1]) if len(path) > 1 and path[0] == "systems" else None
    fld: str | None
    if system is not None:
        fld = ".".join(str(p) for p in path[2:]) or None
    else:
        fld = ".".join(str(p) for p in path) or None
    return {"file": source, "system": system, "field": fld, "line": lines.line(path)}


def _from_pydantic(err: Any, source: str, lines: _Lines) -> Problem:
    # pydantic adds the validator's class or union branch to `loc`; people want the YAML path.
    path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper()))
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "is required"
    elif err["type"] == "extra_forbidden":
        message = "is not a known field"
    return Problem(message=message, **_locate(path, source, lines))


def _cross_check(model: RegistryModel, source: str, lines: _Lines, text: str) -> Registry:
    problems: list[Problem] = []
    warnings: list[Problem] = []
    people = model.people

    def person_ok(key: Any, path: tuple[Any, ...], what: str) -> bool:
        """One named person from `people`; no group stand-ins, blanks or lists."""
        if isinstance(key, str) and key in people and not people[key].group:
            return True
        where = _locate(path, source, lines)
        if isinstance(key, list):
            problems.append(
                Problem(
                    message=f"one named person holds the {what} role, not a list ({key!r})", **where
                )
            )
            return False
        if not isinstance(key, str) or key.strip().lower() in GROUP_WORDS:
            shown = "blank" if key is None or not str(key).strip() else repr(key)
            problems.append(
                Problem(message=f"{shown} is not a person; name one person from `people`", **where)
            )
            return False
        if key not in people:
            problems.append(Problem(message=f"{what} {key!r} is not a key of `people`", **where))
            return False
        if people[key].group:
            problems.append(
                Problem(message=f"{what} {key!r} is marked `group: true`; name one person", **where)
            )
            return False
        return True

    seen_emails: dict[str, str] = {}
    for key, person in people.items():
        # Emails map platform users back to people: two people with one email would let
        # either act as the other.
        other = seen_emails.setdefault(person.email.lower(), key)
        if other != key:
            problems.append(
                Problem(
                    message=f"{person.email!r} is already the email of {other!r}",
                    **_locate(("people", key, "email"), source, lines),
                )
            )
    for i, admin in enumerate(model.admins):
        person_ok(admin, ("admins", i), "admin")
    for i, ch in enumerate(model.channels):
        if ch.fallback is not None:
            person_ok(ch.fallback, ("channels", i, "fallback"), "fallback owner")

    views: dict[str, SystemView] = {}
    for sid, spec in model.systems.items():
        base = ("systems", sid)
        before = len(problems)
        roles: dict[str, str] = {}
        for role in ROLES:
            value = getattr(spec, role)
            if role not in spec.model_fields_set:
                problems.append(
                    Problem(message="is required", **_locate((*base, role), source, lines))
                )
            elif person_ok(value, (*base, role), role):
                roles[role] = value
        if "stop_authority" in spec.model_fields_set and person_ok(
            spec.stop_authority, (*base, "stop_authority"), "stop authority"
        ):
            roles["stop_authority"] = spec.stop_authority
        elif "stop_authority" not in spec.model_fields_set and "steward" in roles:
            roles["stop_authority"] = roles["steward"]

        patterns: list[Rule] = []
        for i, pattern in enumerate(spec.match):
            try:
                patterns.append(compile_rule(pattern))
            except RuleError as exc:
                problems.append(
                    Problem(
                        message=(
                            f"match rule {pattern!r} is not a regular expression RE2 can run: {exc}"
                        ),
                        **_locate((*base, "match", i), source, lines),
                    )
                )

        steps = spec.escalation if spec.escalation is not None else model.defaults.escalation
        steps_path = (
            (*base, "escalation") if spec.escalation is not None else ("defaults", "escalation")
        )
        entries: list[EscalationEntry] = []
        previous: timedelta | None = None
        for i, step in enumerate(steps):
            if previous is not None and step.after <= previous:
                where = _locate((*steps_path, i), source, lines)
                problems.append(
                    Problem(
                        message=(
                            f"escalation step {i + 1} fires after {format_duration(step.after)},"
                            f" not later than the step before ({format_duration(previous)});"
                            " `after` must strictly increase"
                        ),
                        **{**where, "field": "escalation"},
                    )
                )
            previous = step.after
            target = step.notify
            if target in roles:
                entries.append(EscalationEntry(roles[target], target, step.after))
            elif target in (*ROLES, "stop_authority"):
                continue  # the missing role is reported above
            elif target.strip().lower() in GROUP_WORDS:
                problems.append(Problem(message=f"notify {target!r} is not a person", **where))
            elif person_ok(target, (*steps_path, i, "notify"), "escalation notify"):
                entries.append(EscalationEntry(target, f"step {i + 1}", step.after))

        if len(problems) > before:
            continue
        if roles["maintainer"] in (roles["operator"], roles["steward"]):
            other = "operator" if roles["maintainer"] == roles["operator"] else "steward"
            warnings.append(
                Problem(
                    message=f"the maintainer {roles['maintainer']!r} is also the {other}",
                    severity="warning",
                    **_locate((*base, "maintainer"), source, lines),
                )
            )
        if not patterns:
            warnings.append(
                Problem(
                    message="no watch rule (`match`): alerts in chat cannot find this system",
                    severity="warning",
                    **_locate(base, source, lines),
                )
            )
        views[sid] = SystemView(
            id=sid,
            name=spec.name or sid,
            description=spec.description,
            operator=roles["operator"],
            maintainer=roles["maintainer"],
            steward=roles["steward"],
            stop_authority=roles["stop_authority"],
            review_every=spec.review_every or model.defaults.review_every,
            ack_by=spec.ack_by or model.defaults.ack_by,
            match=tuple(patterns),
            channels=tuple(spec.channels),
            escalation=tuple(entries),
            stop=spec.stop.resolved() if spec.stop else None,
            resume=spec.resume.resolved() if spec.resume else None,
        )
    if problems:
        raise RegistryError(problems)
    try:
        matcher = Matcher(
            (i, rule) for i, view in enumerate(views.values()) for rule in view.match
        )
    except RuleError as exc:
        where = _locate(("systems",), source, lines)
        raise RegistryError([Problem(message=str(exc), **where)]) from exc
    return Registry(
        source=source,
        people=dict(people),
        systems=views,
        channels=tuple(model.channels),
        admins=tuple(model.admins),
        warnings=tuple(warnings),
        source_text=text,
        matcher=matcher,
    )
