"""Incident review: the seven questions answered from the record, each with its source, and
plainly "not recorded" where the record is silent.

Inputs are plain records: the alert with its evidence timeline, the resolve form, follow-ups
and the registry version in force when it was taken (`then`), beside the current one (`now`),
each reduced to a `Contract` of the system. The store builds them (store.governance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain import Alert
from bot.evidence_links import fill_link, link_values
from bot.registry import Registry

QUESTIONS = (
    "Who owned the outcome?",
    "What was the system supposed to do?",
    "What was the human supposed to check?",
    "What evidence was available?",
    "Why did the output pass?",
    "Was this a bad judgment, bad source, bad prompt, bad policy, bad routing rule, or bad "
    "exception threshold?",
    "Who changes the system now?",
)
FAILURE_CLASSES = {
    "bad_judgment": "bad judgment",
    "bad_source": "bad source",
    "bad_prompt": "bad prompt",
    "bad_policy": "bad policy",
    "bad_routing_rule": "bad routing rule",
    "bad_exception_threshold": "bad exception threshold",
    "not_a_failure": "not a failure",
    "other": "other",
}


@dataclass(frozen=True)
class Contract:
    """One system as one registry version declares it: roles and the accountability contract."""

    version: str | None
    system: str
    name: str
    operator: str
    maintainer: str
    steward: str
    stop_authority: str
    learning_owner: str | None = None  # None: the maintainer
    purpose: str | None = None
    description: str | None = None
    operator_checks: tuple[str, ...] = ()
    quality_bar: str | None = None
    evidence: tuple[tuple[str, str], ...] = ()  # (title, URL template)
    names: Mapping[str, str] = field(default_factory=dict)  # person key -> display name

    def name_of(self, person: str | None) -> str:
        """A person's display name, or their key when the registry does not know them."""
        return "nobody" if person is None else self.names.get(person, person)

    @property
    def changer(self) -> str:
        """Who changes the system after an incident."""
        return self.learning_owner or self.maintainer


@dataclass(frozen=True)
class TimelineEntry:
    """One evidence entry about the alert (or its system while the alert was open)."""

    seq: int | None
    at: datetime
    actor: str
    action: str
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolveForm:
    """What the resolver answered when the alert was resolved, or that they skipped."""

    by: str
    at: datetime
    skipped: bool
    failure_class: str | None = None
    why_passed: str = ""


@dataclass(frozen=True)
class FollowUp:
    """A follow-up action from an incident."""

    id: int
    action: str
    owner: str
    due_at: datetime
    created_by: str
    created_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    alert_id: int | None = None
    system: str | None = None


@dataclass(frozen=True)
class ReviewRecord:
    """Everything the record holds about one alert."""

    alert: Alert
    timeline: tuple[TimelineEntry, ...] = ()
    form: ResolveForm | None = None
    follow_ups: tuple[FollowUp, ...] = ()
    version: str | None = None  # registry version in force when the alert was taken
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """One of the seven: the answer (or what is missing) and where it comes from."""

    number: int
    question: str
    text: str
    answered: bool
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Review:
    """The seven answers for one alert, the filled evidence links and what changed since."""

    alert: Alert
    answers: tuple[Answer, ...]
    links: tuple[tuple[str, str], ...]
    changed_since: tuple[str, ...]
    version_then: str | None
    version_now: str | None
    timeline: tuple[TimelineEntry, ...]

    @property
    def answered(self) -> int:
        """How many of the seven are answered."""
        return sum(a.answered for a in self.answers)

    @property
    def missing(self) -> tuple[int, ...]:
        """The numbers of the questions the record cannot answer."""
        return tuple(a.number for a in self.answers if not a.answered)


def when(at: datetime) -> str:
    """A time as people in several time zones read it."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def short(version: str | None) -> str:
    """A registry version as people quote it."""
    return version[:12] if version else "unknown"


def _entry(e: TimelineEntry) -> str:
    return f"evidence #{e.seq} {e.action} at {when(e.at)}" if e.seq else f"{e.action}"


def _holders(record: ReviewRecord, contract: Contract | None) -> tuple[str, list[str]]:
    """Who held the alert, in order, and the evidence entries that say so."""
    name = contract.name_of if contract else (lambda p: p or "nobody")
    parts: list[str] = []
    sources: list[str] = []
    for e in record.timeline:
        d = e.detail
        if e.action in ("alert.claimed", "alert.unowned"):
            parts.append(f"claimed for {name(_str(d.get('holder')))} at {when(e.at)}")
        elif e.action == "alert.escalated":
            parts.append(f"escalated to {name(_str(d.get('person')))} at {when(e.at)}")
        elif e.action == "alert.acknowledged":
            parts.append(f"acknowledged by {name(e.actor)} at {when(e.at)}")
        elif e.action == "alert.handed_off":
            parts.append(f"handed off to {name(_str(d.get('to')))} at {when(e.at)}")
        elif e.action == "alert.resolved":
            parts.append(f"resolved by {name(e.actor)} at {when(e.at)}")
        elif e.action.split(".")[0] in ("stop", "resume"):
            parts.append(f"{e.action.replace('.', ' ')} by {name(e.actor)} at {when(e.at)}")
        else:
            continue
        sources.append(_entry(e))
    return "; ".join(parts), sources


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _changes(then: Contract | None, now: Contract | None) -> tuple[str, ...]:
    if then is None or now is None or then.version == now.version:
        return ()
    found = [
        f"registry changed since: version {short(then.version)} then, {short(now.version)} now"
    ]
    for role in ("operator", "maintainer", "steward", "stop_authority", "learning_owner"):
        a = then.changer if role == "learning_owner" else getattr(then, role)
        b = now.changer if role == "learning_owner" else getattr(now, role)
        if a != b:
            label = role.replace("_", " ")
            found.append(f"{label}: {then.name_of(a)} then, {now.name_of(b)} now")
    for part in ("purpose", "operator_checks", "quality_bar", "evidence"):
        if getattr(then, part) != getattr(now, part):
            found.append(f"{part.replace('_', ' ')} changed")
    return tuple(found)


def review(*, record: ReviewRecord, then: Contract | None, now: Contract | None) -> Review:
    """Answer the seven questions for one alert. `then`: the system as the registry version
    in force when the alert was taken declared it (None when that version is not on
    record); `now`: as the current registry declares it (None when it is gone)."""
    alert = record.alert
    basis = then or now
    ver = (
        f"registry {short(then.version)} (in force when taken)"
        if then
        else f"registry {short(now.version)} (current; the version in force then is not on record)"
        if now
        else ""
    )
    held, held_sources = _holders(record, basis)
    answers: list[Answer] = []

    def add(text: str, answered: bool, *sources: str) -> None:
        n = len(answers) + 1
        answers.append(Answer(n, QUESTIONS[n - 1], text, answered, tuple(s for s in sources if s)))

    # 1. who owned the outcome
    if alert.system is None:
        add(
            "Nobody: no system in the registry matched this alert"
            + (f"; {held}." if held else "."),
            True,
            *held_sources,
        )
    elif basis is not None:
        add(
            f"{basis.name_of(basis.steward)} (steward of {basis.system}) owned the outcome;"
            f" {basis.name_of(basis.operator)} was the operator."
            + (f" The alert was {held}." if held else ""),
            True,
            ver,
            *held_sources,
        )
    else:
        add(f"Not recorded: {alert.system} is in neither registry version.", False)
    # 2. purpose
    if basis is not None and basis.purpose:
        add(basis.purpose, True, f"{ver}: purpose")
    elif basis is not None and basis.description:
        add(f"{basis.description} (the registry's description; no purpose declared)", True, ver)
    else:
        add("Not recorded: the registry declares no `purpose` for this system.", False)
    # 3. operator checks
    if basis is not None and basis.operator_checks:
        add("; ".join(basis.operator_checks), True, f"{ver}: operator_checks")
    else:
        add("Not recorded: the registry declares no `operator_checks` for this system.", False)
    # 4. evidence
    values = link_values(alert, record.labels)
    links: list[tuple[str, str]] = []
    unfilled: list[str] = []
    for title, template in basis.evidence if basis else ():
        url = fill_link(template, values)
        if url is None:
            unfilled.append(title)
        else:
            links.append((title, url))
    if alert.link:
        links.insert(0, ("the alert", alert.link))
    kept = f"the record holds {len(record.timeline)} evidence entries about it"
    if links:
        listed = ", ".join(f"{t}: {u}" for t, u in links)
        add(f"{listed}; {kept}.", True, f"{ver}: evidence" if basis and basis.evidence else "")
    else:
        add(f"Not recorded: no evidence links in the registry and none on the alert ({kept}).",
            False)  # fmt: skip
    if unfilled:
        answers[-1] = Answer(
            4,
            QUESTIONS[3],
            answers[-1].text
            + f" Not filled (the alert lacks their values): {', '.join(unfilled)}.",
            answers[-1].answered,
            answers[-1].sources,
        )
    # 5 and 6: the resolve form
    form = record.form
    form_source = f"resolve form by {form.by} at {when(form.at)}" if form else ""
    if form is None:
        gap = "Not recorded: no resolve form was submitted."
        add(gap, False)
        add(gap, False)
    elif form.skipped:
        gap = f"Not recorded: {form.by} skipped the resolve form at {when(form.at)}."
        add(gap, False, form_source)
        add(gap, False, form_source)
    else:
        why = form.why_passed.strip()
        add(why or "Not recorded: the form left it blank.", bool(why), form_source)
        label = FAILURE_CLASSES.get(form.failure_class or "")
        add(label or "Not recorded: no failure class chosen.", label is not None, form_source)
    # 7. who changes the system now
    changer = now or basis
    owner = f" (learning owner now: {changer.name_of(changer.changer)})" if changer else ""
    if record.follow_ups:
        name = changer.name_of if changer else (lambda p: p or "nobody")
        items = [
            f"{f.action} (owner {name(f.owner)}, due {when(f.due_at)}, "
            + (f"done {when(f.done_at)})" if f.done_at else "open)")
            for f in record.follow_ups
        ]
        add(
            "; ".join(items) + owner + ".", True, *(f"follow-up #{f.id}" for f in record.follow_ups)
        )
    elif form is not None and form.failure_class == "not_a_failure":
        add(f"Nothing to change: recorded as not a failure{owner}.", True, form_source)
    else:
        add(f"Not recorded: no follow-up action{owner}.", False)
    return Review(
        alert=alert,
        answers=tuple(answers),
        links=tuple(links),
        changed_since=_changes(then, now),
        version_then=record.version,
        version_now=now.version if now else None,
        timeline=record.timeline,
    )


def contract_of(registry: Registry, system_id: str | None) -> Contract | None:
    """One system of a loaded registry (its version included) as a Contract; None when the
    registry lacks it. A review passes the registry re-parsed from the text kept for the
    alert's version as `then`, and the running one as `now`."""
    system = registry.system(system_id) if system_id else None
    if system is None:
        return None
    contract = system.contract
    return Contract(
        version=registry.version,
        system=system.id,
        name=system.name,
        operator=system.operator,
        maintainer=system.maintainer,
        steward=system.steward,
        stop_authority=system.stop_authority,
        learning_owner=contract.learning_owner,
        purpose=contract.purpose,
        description=system.description,
        operator_checks=contract.operator_checks,
        quality_bar=contract.quality_bar,
        evidence=tuple((e.title, e.url) for e in contract.evidence),
        names={key: person.name for key, person in registry.people.items()},
    )


def timeline_lines(entries: Sequence[TimelineEntry]) -> list[str]:
    """The timeline as lines of text, oldest first."""
    return [
        f"{when(e.at)} #{e.seq if e.seq is not None else '-'} {e.action} by {e.actor}"
        for e in sorted(entries, key=lambda e: (e.at, e.seq or 0))
    ]
