"""The ownership registry: pydantic models of the YAML file, its loader and its rules.

Every failure names the file, the system, the field and (where the YAML parser knows it) the
line, because the people who fix a registry read the message in a CI log, not in a debugger.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot import registry_fields as fields
from bot.registry_base import (
    GROUP_WORDS,
    LOADER,
    Checker,
    Problem,
    RegistryError,
    format_duration,
    parse_duration,
)
from bot.registry_fields import Contract, DecisionRight, Governance
from bot.registry_model import (
    AckPolicy,
    ChannelId,
    CommandAction,
    Defaults,
    Person,
    RegistryModel,
    System,
    WatchedChannel,
    WebhookAction,
)
from bot.rules import Matcher, Rule, RuleError, compile_rule

__all__ = [
    "GROUP_WORDS",
    "ROLES",
    "AckPolicy",
    "ChannelId",
    "CommandAction",
    "Contract",
    "DecisionRight",
    "EscalationEntry",
    "Governance",
    "Person",
    "Problem",
    "Registry",
    "RegistryError",
    "SystemView",
    "WatchedChannel",
    "WebhookAction",
    "format_duration",
    "load_registry",
    "parse_duration",
    "parse_registry",
]

ROLES = ("operator", "maintainer", "steward")


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
    contract: Contract
    governance: Governance
    # category -> who recommends, approves, executes, is informed (defaults applied)
    decisions: Mapping[str, DecisionRight] = field(default_factory=dict, hash=False)

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
    """Validate registry YAML text; `source` is the name used in messages. The same text
    always gives the same registry and `version`: a stored version re-loads as it was."""
    try:
        data = yaml.load(text, Loader=LOADER)  # noqa: S506 - a safe loader, C or Python
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RegistryError([Problem(source, f"not valid YAML: {exc}", line=line)]) from exc
    if not isinstance(data, dict):
        raise RegistryError([Problem(source, "the file must be a mapping with people and systems")])
    check = Checker(source, text)
    try:
        model = RegistryModel.model_validate(data)
    except ValidationError as exc:
        raise RegistryError([check.from_pydantic(err) for err in exc.errors()]) from exc
    check.people = dict(model.people)
    registry = _cross_check(model, check, text)
    if check.problems:
        raise RegistryError(check.problems)
    return registry


def _check_people(model: RegistryModel, check: Checker) -> None:
    seen_emails: dict[str, str] = {}
    for key, person in model.people.items():
        # Emails map platform users back to people: two people with one email would let
        # either act as the other.
        other = seen_emails.setdefault(person.email.lower(), key)
        if other != key:
            check.error(
                ("people", key, "email"), f"{person.email!r} is already the email of {other!r}"
            )
    for i, admin in enumerate(model.admins):
        check.person(admin, ("admins", i), "admin")
    for i, ch in enumerate(model.channels):
        if ch.fallback is not None:
            check.person(ch.fallback, ("channels", i, "fallback"), "fallback owner")


def _roles(spec: System, base: tuple[Any, ...], check: Checker) -> dict[str, str]:
    roles: dict[str, str] = {}
    for role in ROLES:
        value = getattr(spec, role)
        if role not in spec.model_fields_set:
            check.error((*base, role), "is required")
        elif check.person(value, (*base, role), role):
            roles[role] = value
    if "stop_authority" in spec.model_fields_set:
        if check.person(spec.stop_authority, (*base, "stop_authority"), "stop authority"):
            roles["stop_authority"] = spec.stop_authority
    elif "steward" in roles:
        roles["stop_authority"] = roles["steward"]
    return roles


def _rules(spec: System, base: tuple[Any, ...], check: Checker) -> list[Rule]:
    rules: list[Rule] = []
    for i, pattern in enumerate(spec.match):
        try:
            rules.append(compile_rule(pattern))
        except RuleError as exc:
            check.error(
                (*base, "match", i),
                f"match rule {pattern!r} is not a regular expression RE2 can run: {exc}",
            )
    return rules


def _escalation(
    spec: System, defaults: Defaults, roles: dict[str, str], base: tuple[Any, ...], check: Checker
) -> list[EscalationEntry]:
    own = spec.escalation is not None
    steps = spec.escalation if spec.escalation is not None else defaults.escalation
    path = (*base, "escalation") if own else ("defaults", "escalation")
    entries: list[EscalationEntry] = []
    previous: timedelta | None = None
    for i, step in enumerate(steps):
        if previous is not None and step.after <= previous:
            check.error(
                (*path, i),
                f"escalation step {i + 1} fires after {format_duration(step.after)},"
                f" not later than the step before ({format_duration(previous)});"
                " `after` must strictly increase",
                field="escalation",
            )
        previous = step.after
        target = step.notify
        if target in roles:
            entries.append(EscalationEntry(roles[target], target, step.after))
        elif target in (*ROLES, "stop_authority"):
            continue  # the missing role is reported already
        elif target.strip().lower() in GROUP_WORDS:
            check.error((*path, i, "notify"), f"notify {target!r} is not a person")
        elif check.person(target, (*path, i, "notify"), "escalation notify"):
            entries.append(EscalationEntry(target, f"step {i + 1}", step.after))
    return entries


def _cross_check(model: RegistryModel, check: Checker, text: str) -> Registry:
    _check_people(model, check)
    defaults = model.defaults
    default_rights = fields.decision_rights(defaults.decisions, ("defaults", "decisions"), check)
    escalation = fields.default_escalation(defaults.governance, tuple(model.admins), check)
    views: dict[str, SystemView] = {}
    for sid, spec in model.systems.items():
        base = ("systems", sid)
        before = len(check.problems)
        roles = _roles(spec, base, check)
        rules = _rules(spec, base, check)
        entries = _escalation(spec, defaults, roles, base, check)
        rights = fields.decision_rights(spec.decisions, (*base, "decisions"), check)
        governance = fields.governance(
            spec.governance, defaults.governance, escalation=escalation, path=base, check=check
        )
        if len(check.problems) > before:
            continue
        contract = fields.contract(spec, maintainer=roles["maintainer"], path=base, check=check)
        if len(check.problems) > before:
            continue
        if roles["maintainer"] in (roles["operator"], roles["steward"]):
            other = "operator" if roles["maintainer"] == roles["operator"] else "steward"
            check.warn(
                (*base, "maintainer"), f"the maintainer {roles['maintainer']!r} is also the {other}"
            )
        if not rules:
            check.warn(base, "no watch rule (`match`): alerts in chat cannot find this system")
        views[sid] = SystemView(
            id=sid,
            name=spec.name or sid,
            description=spec.description,
            operator=roles["operator"],
            maintainer=roles["maintainer"],
            steward=roles["steward"],
            stop_authority=roles["stop_authority"],
            review_every=spec.review_every or defaults.review_every,
            ack_by=spec.ack_by or defaults.ack_by,
            match=tuple(rules),
            channels=tuple(spec.channels),
            escalation=tuple(entries),
            stop=spec.stop.resolved() if spec.stop else None,
            resume=spec.resume.resolved() if spec.resume else None,
            contract=contract,
            governance=governance,
            decisions={**default_rights, **rights},
        )
    if check.problems:
        raise RegistryError(check.problems)
    try:
        matcher = Matcher((i, rule) for i, view in enumerate(views.values()) for rule in view.match)
    except RuleError as exc:
        check.error(("systems",), str(exc))
        raise RegistryError(check.problems) from exc
    return Registry(
        source=check.source,
        people=dict(model.people),
        systems=views,
        channels=tuple(model.channels),
        admins=tuple(model.admins),
        warnings=tuple(check.warnings),
        source_text=text,
        matcher=matcher,
    )
