"""Turn the registry and the console store's reads into what the pages show. Plain data in,
plain data out: the handlers fetch, these shape, the templates lay out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.registry import Registry, SystemView
from bot.roles import unconfirmed
from store.console import AlertLine, StepLine

PER_PAGE = 50
QUERY_CAP = 200  # longest search text taken from a URL

Confirmed = Mapping[str, tuple[str, datetime]]


@dataclass(frozen=True)
class RoleLine:
    """One role of a system on a page."""

    role: str
    person: str
    name: str
    email: str
    confirmed_at: datetime | None
    stale: str | None


def roles(
    system: SystemView, registry: Registry, confirmed: Confirmed, now: datetime
) -> list[RoleLine]:
    """The four roles of a system with their last confirmation and stale flag."""
    out = []
    for role, person in system.roles().items():
        held = confirmed.get(role)
        p = registry.people[person]
        out.append(
            RoleLine(
                role=role,
                person=person,
                name=p.name,
                email=p.email,
                confirmed_at=held[1] if held and held[0] == person else None,
                stale=unconfirmed(person, held, every=system.review_every, now=now),
            )
        )
    return out


@dataclass(frozen=True)
class SystemsQuery:
    """The systems page's filter, read from its URL."""

    q: str = ""
    person: str = ""
    flag: str = ""  # "", "stale", "stopped", "open"
    page: int = 1

    FLAGS = ("", "stale", "stopped", "open")

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> SystemsQuery:
        """Read the filter from query parameters; anything odd falls back to no filter."""
        flag = params.get("flag", "")
        return cls(
            q=param(params, "q"),
            person=param(params, "person"),
            flag=flag if flag in cls.FLAGS else "",
            page=page_number(params.get("page")),
        )


def param(params: Mapping[str, str], key: str) -> str:
    """A text filter from a URL: capped, without NUL (no stored text holds one, and
    PostgreSQL refuses it in a query), trimmed."""
    return params.get(key, "")[:QUERY_CAP].replace("\x00", "").strip()


def whole(value: str | None, *, digits: int = 17) -> int | None:
    """A non-negative whole number from a URL, or None for anything else (or too long)."""
    value = (value or "").strip()
    if value and value.isascii() and value.isdigit() and len(value) <= digits:
        return int(value)
    return None


def day(value: str | None) -> datetime | None:
    """A YYYY-MM-DD date from a URL, as midnight UTC; None when it is not one."""
    if not value or len(value) != 10:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def page_number(value: str | None) -> int:
    """A 1-based page number from a URL; 1 for anything that is not one."""
    return max(1, whole(value, digits=6) or 1)


class SearchIndex:
    """Lower-cased text to search per system (ids, names, people), built once per registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        people = registry.people
        self.order = sorted(registry.systems)
        self.text: dict[str, str] = {}
        # A person filter takes a registry key, a name or an email.
        self.people: dict[str, str] = {}
        for key, p in people.items():
            for word in (p.email, p.name, key):
                self.people[word.lower()] = key
        for sid in self.order:
            s = registry.systems[sid]
            words = [sid, s.name]
            for person in set(s.roles().values()):
                words += [person, people[person].name, people[person].email]
            self.text[sid] = "\n".join(words).lower()

    def person(self, text: str) -> str | None:
        """The person a filter names, by key, name or email (case-insensitive)."""
        return self.people.get(text.strip().lower()) if text else None


@dataclass(frozen=True)
class SystemsPage:
    """What the systems page shows: one page of rows and how many matched."""

    rows: list[SystemView]
    total: int
    page: int
    pages: int


def filter_systems(
    index: SearchIndex,
    query: SystemsQuery,
    *,
    stopped: Mapping[str, object],
    open_counts: Mapping[str | None, int],
    confirmations: Mapping[str, Confirmed],
    now: datetime,
) -> SystemsPage:
    """Apply the filter server-side over every system and cut one page."""
    registry = index.registry
    found: Sequence[str] = index.order
    if query.q:
        needle = query.q.lower()
        found = [sid for sid in found if needle in index.text[sid]]
    if query.person:
        person = index.person(query.person)
        found = [sid for sid in found if person in registry.systems[sid].roles().values()]
    if query.flag == "stopped":
        found = [sid for sid in found if sid in stopped]
    elif query.flag == "open":
        found = [sid for sid in found if open_counts.get(sid)]
    elif query.flag == "stale":
        found = [sid for sid in found if is_stale(registry.systems[sid], confirmations, now)]
    pages = max(1, -(-len(found) // PER_PAGE))
    page = min(query.page, pages)
    start = (page - 1) * PER_PAGE
    rows = [registry.systems[sid] for sid in found[start : start + PER_PAGE]]
    return SystemsPage(rows, len(found), page, pages)


def is_stale(system: SystemView, confirmations: Mapping[str, Confirmed], now: datetime) -> bool:
    """Whether any role of the system is unconfirmed: `bot.roles.unconfirmed`'s rule as a
    yes or no, without composing its reason (the filter asks it of every system)."""
    confirmed = confirmations.get(system.id)
    if not confirmed:
        return True
    oldest = now - system.review_every
    for role, person in system.roles().items():
        held = confirmed.get(role)
        if held is None or held[0] != person or held[1] < oldest:
            return True
    return False


@dataclass(frozen=True)
class Told:
    """Someone the bot told about an alert, and when."""

    person: str
    label: str
    at: datetime | None


@dataclass(frozen=True)
class AlertView:
    """An open alert with who has been told and what happens next."""

    alert: AlertLine
    told: list[Told]
    next_step: StepLine | None
    due_in: timedelta | None


def alert_view(alert: AlertLine, steps: Sequence[StepLine], now: datetime) -> AlertView:
    """Who was told (the holder at the claim, then each sent step) and the next due step."""
    told = [Told(alert.holder, "claim", alert.opened_at)] if alert.holder else []
    told += [Told(s.person, s.label, s.sent_at) for s in steps if s.state == "sent"]
    pending = [s for s in steps if s.state == "pending"]
    next_step = pending[0] if pending and alert.state == "open" else None
    return AlertView(alert, told, next_step, next_step.due_at - now if next_step else None)
