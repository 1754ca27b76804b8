"""Registry fields for governance and incident review, all optional: decision rights per
category, the thresholds that mark a system "review needed", the time box on a steward's
decision, and the accountability contract (what the system is for, what its operator
checks, where the evidence is, who changes it after an incident).

Each comes as a YAML model (validated by pydantic, people checked by the loader) and as the
frozen view a `SystemView` exposes: `system.decisions`, `system.governance`,
`system.contract`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import AfterValidator, BeforeValidator, Field

from bot.registry_base import Checker, Duration, Model

KNOWN_CATEGORIES = ("model_change", "policy_exception", "incident_response", "rollout_gate")
DECISION_ROLES = ("recommends", "approves", "executes")
DEFAULT_TIMEBOX = timedelta(hours=48)
CONTRACT_FIELDS = ("purpose", "operator_checks", "quality_bar", "evidence")
TEMPLATE_FIELDS = frozenset({"system", "alert_id", "fingerprint", "started_at", "started_at_ms"})


def parse_fraction(value: Any) -> float:
    """A share: `30%` or `0.3` (a number from 0 to 1)."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not 0 <= number <= 1:
        raise ValueError(f"not a share: {value!r} (write 30% or 0.3)")
    return number


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


Fraction = Annotated[float, BeforeValidator(parse_fraction)]
Count = Annotated[int, Field(ge=0, strict=True)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


# ---- evidence link templates --------------------------------------------------------------

Part = tuple[str, str | None]  # (literal text, None) or ("", field name)


def parse_template(url: str) -> tuple[Part, ...]:
    """Split an evidence URL template into literal text and `{field}` / `{labels[name]}`
    parts (`{{` and `}}` are literal braces). One pass; no `str.format`, which would let a
    template reach attributes of the values."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("http", "https"):
        raise ValueError(f"evidence url {url!r} must start with http:// or https://")
    parts: list[Part] = []
    literal: list[str] = []
    i, n = 0, len(url)
    while i < n:
        char = url[i]
        if char in "{}" and url.startswith(char * 2, i):
            literal.append(char)
            i += 2
        elif char == "}":
            raise ValueError(f"a single '}}' at {i} in {url!r}; write '}}}}' for a brace")
        elif char == "{":
            end = url.find("}", i + 1)
            name = url[i + 1 : end] if end > 0 else ""
            if not _known_field(name):
                raise ValueError(
                    f"unknown field {{{name}}} in {url!r}; use {{system}}, {{alert_id}},"
                    " {fingerprint}, {started_at}, {started_at_ms} or {labels[name]}"
                )
            if not parts and not any(c in "".join(literal).split("://", 1)[1] for c in "/?#"):
                raise ValueError(f"a field may not be part of the host in {url!r}")
            parts += [("".join(literal), None), ("", name)]
            literal = []
            i = end + 1
        else:
            literal.append(char)
            i += 1
    parts.append(("".join(literal), None))
    return tuple(p for p in parts if p != ("", None))


def _known_field(name: str) -> bool:
    if name in TEMPLATE_FIELDS:
        return True
    label = name.removeprefix("labels[").removesuffix("]")
    return name.startswith("labels[") and name.endswith("]") and bool(label) and "[" not in label


@dataclass(frozen=True)
class EvidenceLink:
    """A link to evidence (dashboard, logs, prompt or playbook version) for an alert."""

    title: str
    url: str  # the template as written in the registry
    parts: tuple[Part, ...] = field(default=(), compare=False, repr=False)

    def render(
        self,
        *,
        system: str,
        alert_id: str | int | None = None,
        fingerprint: str | None = None,
        started_at: datetime | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """The URL for one alert; every value is percent-encoded, a missing one is empty."""
        values: dict[str, str] = {"system": system}
        if alert_id is not None:
            values["alert_id"] = str(alert_id)
        if fingerprint is not None:
            values["fingerprint"] = fingerprint
        if started_at is not None:
            when = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
            values["started_at"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            values["started_at_ms"] = str(int(when.timestamp() * 1000))
        out: list[str] = []
        for literal, name in self.parts or parse_template(self.url):
            if name is None:
                out.append(literal)
            elif name.startswith("labels["):
                out.append(quote(str((labels or {}).get(name[7:-1], "")), safe=""))
            else:
                out.append(quote(values.get(name, ""), safe=""))
        return "".join(out)


def _template(url: str) -> str:
    parse_template(url)
    return url


class EvidenceSpec(Model):
    """`{title, url}` in the registry."""

    title: str
    url: Annotated[str, AfterValidator(_template)]


# ---- decision rights, governance thresholds --------------------------------------------------


class DecisionSpec(Model):
    """Who recommends, approves, executes and is informed, for one decision category."""

    recommends: Any = None
    approves: Any = None
    executes: Any = None
    informed: Any = None


class ReviewWhenSpec(Model):
    """Thresholds that mark a system "review needed" on its scorecard."""

    exception_rate: Fraction | None = None
    ack_p50: Duration | None = None
    ack_p90: Duration | None = None
    operator_ack_rate: Fraction | None = None
    rework: Count | None = None
    still_open: Count | None = None


class GovernanceSpec(Model):
    """`governance:` of a system or of `defaults`."""

    review_when: ReviewWhenSpec = ReviewWhenSpec()
    decision_timebox: PositiveDuration | None = None
    decision_escalation: Any = None


@dataclass(frozen=True)
class DecisionRight:
    """Named people for one decision category (RACI: recommends, approves, executes,
    informed)."""

    category: str
    recommends: str
    approves: str
    executes: str
    informed: tuple[str, ...] = ()

    def people(self) -> frozenset[str]:
        """Everyone named on this decision."""
        return frozenset({self.recommends, self.approves, self.executes, *self.informed})


@dataclass(frozen=True)
class ReviewWhen:
    """Thresholds (None: not watched). Shares are fractions (0.3 for 30%); the system needs
    review when exception_rate, ack_p50, ack_p90, rework or still_open rise above theirs, or
    operator_ack_rate falls below its own."""

    exception_rate: float | None = None
    ack_p50: timedelta | None = None
    ack_p90: timedelta | None = None
    operator_ack_rate: float | None = None
    rework: int | None = None
    still_open: int | None = None

    def watched(self) -> dict[str, float | timedelta | int]:
        """The thresholds that are set, by name."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Governance:
    """A system's review thresholds and the time box on its steward's weekly decision."""

    review_when: ReviewWhen = ReviewWhen()
    decision_timebox: timedelta = DEFAULT_TIMEBOX
    decision_escalation: tuple[str, ...] = ()  # who decides when the steward has not


@dataclass(frozen=True)
class Contract:
    """What the system is supposed to do, what its operator checks, the quality bar, where
    the evidence is, and who changes the system after an incident."""

    learning_owner: str
    purpose: str | None = None
    operator_checks: tuple[str, ...] = ()
    quality_bar: str | None = None
    evidence: tuple[EvidenceLink, ...] = ()

    def missing(self) -> tuple[str, ...]:
        """Contract fields the registry leaves empty (the learning owner has a default)."""
        return tuple(name for name in CONTRACT_FIELDS if not getattr(self, name))


# ---- resolution: defaults applied, people checked --------------------------------------------


def decision_rights(
    specs: Mapping[str, DecisionSpec], path: tuple[Any, ...], check: Checker
) -> dict[str, DecisionRight]:
    """Check a `decisions:` map; the valid categories as views."""
    rights: dict[str, DecisionRight] = {}
    for category, spec in specs.items():
        where = (*path, category)
        ok = bool(category.strip()) or _bad(check, where, "a decision category needs a name")
        named: dict[str, str] = {}
        for role in DECISION_ROLES:
            value = getattr(spec, role)
            if role not in spec.model_fields_set:
                ok = _bad(check, (*where, role), "is required")
            elif check.person(value, (*where, role), f"{category} {role}"):
                named[role] = value
            else:
                ok = False
        informed = spec.informed if spec.informed is not None else []
        informed = [informed] if isinstance(informed, str) else informed
        if not isinstance(informed, list):
            ok = _bad(check, (*where, "informed"), "informed is a list of people")
            informed = []
        for i, person in enumerate(informed):
            if not check.person(person, (*where, "informed", i), f"{category} informed"):
                ok = False
        if ok:
            rights[category] = DecisionRight(category, **named, informed=tuple(informed))
    return rights


def _bad(check: Checker, path: tuple[Any, ...], message: str) -> bool:
    check.error(path, message)
    return False


def governance(
    own: GovernanceSpec | None,
    defaults: GovernanceSpec,
    *,
    escalation: tuple[str, ...],
    path: tuple[Any, ...],
    check: Checker,
) -> Governance:
    """A system's governance: its own keys over the defaults' keys over the built-ins.
    `escalation` is the defaults' (already checked): their person, else the admins."""
    thresholds: dict[str, Any] = {}
    timebox = defaults.decision_timebox or DEFAULT_TIMEBOX
    for spec in (defaults, own):
        if spec is not None:
            rw = spec.review_when
            thresholds.update({k: getattr(rw, k) for k in rw.model_fields_set})
    if own is not None:
        timebox = own.decision_timebox or timebox
        person = own.decision_escalation
        where = (*path, "governance", "decision_escalation")
        if person is not None and check.person(person, where, "decision escalation"):
            escalation = (person,)
    return Governance(ReviewWhen(**thresholds), timebox, escalation)


def default_escalation(
    defaults: GovernanceSpec, admins: tuple[str, ...], check: Checker
) -> tuple[str, ...]:
    """Who decides for a steward who has not: `defaults.governance.decision_escalation`, else
    the registry's admins."""
    person = defaults.decision_escalation
    where = ("defaults", "governance", "decision_escalation")
    if person is not None and check.person(person, where, "decision escalation"):
        return (person,)
    return admins


def contract(spec: Any, *, maintainer: str, path: tuple[Any, ...], check: Checker) -> Contract:
    """A system's accountability contract; the learning owner defaults to the maintainer."""
    owner = maintainer
    if spec.learning_owner is not None and check.person(
        spec.learning_owner, (*path, "learning_owner"), "learning owner"
    ):
        owner = spec.learning_owner
    checks = spec.operator_checks
    checks = [checks] if isinstance(checks, str) else (checks or [])
    return Contract(
        learning_owner=owner,
        purpose=(spec.purpose or "").strip() or None,
        operator_checks=tuple(c.strip() for c in checks if c.strip()),
        quality_bar=(spec.quality_bar or "").strip() or None,
        evidence=tuple(
            EvidenceLink(e.title, e.url, parse_template(e.url)) for e in spec.evidence
        ),
    )
