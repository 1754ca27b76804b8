"""The stale-ownership scan: platform-free, run on a schedule by exactly one replica per period.

It looks for four things: role holders the platform reports deactivated or does not know,
roles not re-confirmed within the system's `review_every`, alerts still unacknowledged after
their last escalation step, and alerts no system claimed since the previous run. Each person
then gets one digest with Confirm ("still mine") and Hand off buttons. Findings about someone
who is gone go to the system's steward, and to the registry's admins when the steward is the
one who is gone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot import cards, render
from bot.cards import Button, Card, Line
from bot.context import Context
from bot.domain import BOT, AlertState, StepState
from bot.ports import PlatformError
from bot.registry import Registry, SystemView
from bot.roles import unconfirmed

log = logging.getLogger(__name__)

JOB = "stale-scan"
MAX_BUTTONS = 24  # Slack allows 25 elements per actions block; Teams cards get long beyond it
MAX_LISTED = 20

Kind = Literal["deactivated", "unknown", "unconfirmed", "unacknowledged", "unowned"]
Standing = Literal["ok", "deactivated", "unknown", "unsure"]
ORPHANED: frozenset[str] = frozenset({"deactivated", "unknown"})


@dataclass(frozen=True)
class Finding:
    """One thing the scan found; `holder` is the person it is about (role holder, alert holder)."""

    kind: Kind
    text: str
    system: str | None = None
    role: str | None = None
    holder: str | None = None
    alert_id: int | None = None


@dataclass(frozen=True)
class Digest:
    """What one person is sent in one run."""

    person: str
    card: Card
    findings: tuple[Finding, ...]


@dataclass
class ScanReport:
    """What a run found and did; `ran` is False when another replica had this period."""

    period: str
    dry_run: bool
    ran: bool = True
    platforms: tuple[str, ...] = ()
    digests: list[Digest] = field(default_factory=list)
    delivered: dict[str, str] = field(default_factory=dict)
    undelivered: list[str] = field(default_factory=list)
    unrouted: list[Finding] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the job record."""
        if not self.ran:
            return f"period {self.period} already run by another replica"
        return (
            f"{len(self.digests)} digests, {len(self.delivered)} delivered, "
            f"{len(self.undelivered)} undelivered, "
            f"{len(self.unrouted)} findings with nobody to tell"
        )

    def text(self, registry: Registry) -> str:
        """The report as `stale-scan --dry-run` prints it."""
        verb = "would be sent" if self.dry_run else "sent"
        out = [
            f"Stale-ownership scan for period {self.period}"
            + (" (dry run)" if self.dry_run else "")
        ]
        if self.platforms:
            out.append(
                f"Chat platforms: {', '.join(self.platforms)} (holders are checked on the "
                "platforms of each system's channels)"
            )
        else:
            out.append(
                "No chat platform configured: deactivated or unknown holders were not checked."
            )
        out.append(f"{len(self.digests)} digest(s) {verb}.")
        for d in self.digests:
            person = registry.people.get(d.person)
            out += ["", f"--- to {person.name if person else d.person} ({d.person}) ---"]
            out.append(d.card.plain_text())
            if d.card.buttons:
                out.append("[" + "] [".join(b.label for b in d.card.buttons) + "]")
        if self.unrouted:
            out += ["", "--- nobody to tell (no steward or admin can be reached) ---"]
            out += [f"- {f.text}" for f in self.unrouted]
        return "\n".join(out)


def _role(role: str) -> str:
    return role.replace("_", " ")


def _platforms_for(context: Context, system: SystemView) -> list[str]:
    """Where a system's people must be reachable: the configured platforms of its channels
    (every configured platform for a system that lists no channel)."""
    if system.channels:
        return sorted({c.platform for c in system.channels if c.platform in context.platforms})
    return sorted(context.platforms)


async def _standing(context: Context, person: str, platform: str) -> Standing:
    """Whether the platform knows this person and says they are active."""
    if person not in context.registry.people:
        return "unknown"
    try:
        user = await context.people.user(person, platform=platform)
        if user is None:
            return "unknown"
        active = await context.platforms[platform].user_active(user=user)
    except PlatformError as exc:
        # A platform that cannot answer today must not make someone look gone.
        log.warning("could not check %s on %s: %s", person, platform, exc)
        return "unsure"
    return "deactivated" if active is False else "ok"


async def find(context: Context, *, now: datetime, since: datetime | None) -> list[Finding]:
    """Everything stale right now. Reads the store first, then asks the platforms."""
    registry = context.registry
    async with context.store.transaction() as tx:
        confirmations = {
            sid: await tx.ownership.confirmations(system=sid) for sid in registry.systems
        }
        waiting = [
            a for a in await tx.alerts.unresolved() if a.state == AlertState.OPEN and a.system
        ]
        steps = {a.id: await tx.steps.of_alert(alert_id=a.id) for a in waiting}
        unowned = await tx.alerts.unowned(since=since)

    findings: list[Finding] = []
    standing: dict[tuple[str, str], Standing] = {}
    for system in registry.systems.values():
        for role, person in system.roles().items():
            gone: tuple[Standing, str] | None = None
            for platform in _platforms_for(context, system):
                key = (person, platform)
                if key not in standing:
                    standing[key] = await _standing(context, person, platform)
                if standing[key] in ORPHANED:
                    gone = (standing[key], platform)
                    break
            name = context.people.name(person)
            if gone is not None:
                state = "is deactivated" if gone[0] == "deactivated" else "is not found"
                findings.append(
                    Finding(
                        "deactivated" if gone[0] == "deactivated" else "unknown",
                        f"{name}, {_role(role)} of {system.id}, {state} on {gone[1]}",
                        system.id,
                        role,
                        person,
                    )
                )
                continue
            why = unconfirmed(
                person, confirmations[system.id].get(role), every=system.review_every, now=now
            )
            if why is None:
                continue
            findings.append(
                Finding(
                    "unconfirmed", f"{_role(role)} of {system.id}: {why}", system.id, role, person
                )
            )

    for alert in waiting:
        pending = [s for s in steps[alert.id] if s.state == StepState.PENDING]
        last_due = max((s.due_at for s in steps[alert.id]), default=alert.opened_at)
        if pending or last_due > now:
            continue
        findings.append(
            Finding(
                "unacknowledged",
                f"{alert.system}: alert #{alert.id} {alert.title!r}, open since "
                f"{render.when(alert.opened_at)}, held by {context.people.name(alert.holder)}, "
                "unacknowledged after its last escalation step",
                alert.system,
                None,
                alert.holder,
                alert.id,
            )
        )

    for alert in unowned:
        if alert.opened_at >= now:  # half-open periods: the next run reports it, once
            continue
        held = f", held by fallback {context.people.name(alert.holder)}" if alert.holder else ""
        findings.append(
            Finding(
                "unowned",
                f"{alert.platform}:{alert.channel}: alert #{alert.id} {alert.title!r} at "
                f"{render.when(alert.opened_at)} matched no system{held}",
                None,
                None,
                alert.holder,
                alert.id,
            )
        )
    return findings


def route(
    registry: Registry, findings: Sequence[Finding]
) -> tuple[dict[str, list[Finding]], list[Finding]]:
    """Who is told what: a role holder confirms their own roles; what is about someone gone,
    and alerts stuck at the end of their map, go to the steward; an orphaned steward, and
    alerts no system claimed, go to the admins. Returns (person -> findings, nobody to tell)."""
    gone = {f.holder for f in findings if f.kind in ORPHANED and f.holder}
    admins = [a for a in registry.admins if a not in gone]

    def steward_or_admins(system_id: str | None) -> list[str]:
        system = registry.system(system_id) if system_id else None
        if system is not None and system.steward not in gone:
            return [system.steward]
        return admins

    routed: dict[str, list[Finding]] = defaultdict(list)
    unrouted: list[Finding] = []
    for f in findings:
        if f.kind == "unconfirmed" and f.holder:
            to = [f.holder]
        elif f.kind == "unowned":
            to = admins
        else:
            to = steward_or_admins(f.system)
        for person in to:
            routed[person].append(f)
        if not to:
            unrouted.append(f)
    return dict(routed), unrouted


def _section(title: str, items: Iterable[Finding]) -> list[Line]:
    listed = list(items)
    if not listed:
        return []
    lines: list[Line] = [(title,)]
    lines += [(f"• {f.text}",) for f in listed[:MAX_LISTED]]
    if len(listed) > MAX_LISTED:
        lines.append((f"• and {len(listed) - MAX_LISTED} more",))
    return lines


def digest_card(person: str, findings: Sequence[Finding], *, name: str) -> Card:
    """One person's digest: what needs them, with Confirm / Hand off buttons per role."""
    mine = [f for f in findings if f.kind == "unconfirmed" and f.holder == person]
    gone = [f for f in findings if f.kind in ORPHANED]
    stuck = [f for f in findings if f.kind == "unacknowledged"]
    unowned = [f for f in findings if f.kind == "unowned"]
    lines: list[Line] = [(f"Hello {name}: the ownership check needs you on what follows.",)]
    lines += _section(
        "Roles you hold that need re-confirming (Still mine, or Hand off to a named person):", mine
    )
    lines += _section("Role holders who are gone: hand these roles to a named person:", gone)
    lines += _section("Alerts unacknowledged after their last escalation step:", stuck)
    lines += _section(
        "Alerts no system claimed since the last check (add a system or a fallback owner to "
        "the registry):",
        unowned,
    )
    buttons: list[Button] = []
    for f in mine + gone:
        assert f.system is not None and f.role is not None
        value = f"{f.system}:{f.role}"
        if f in mine:
            buttons.append(
                Button(
                    cards.ROLE_CONFIRM, f"Still mine: {f.system} {_role(f.role)}", value, "primary"
                )
            )
        buttons.append(
            Button(
                cards.ROLE_HAND_OFF,
                f"Hand off: {f.system} {_role(f.role)}",
                value,
                picks_user=True,
            )
        )
    if len(buttons) > MAX_BUTTONS:
        lines.append(("More roles than buttons fit: the rest come in the next digest.",))
        buttons = buttons[:MAX_BUTTONS]
    return Card(
        title=f"Ownership check: {len(findings)} item(s) need you",
        lines=tuple(lines),
        buttons=tuple(buttons),
        tone="warning",
    )


async def scan(context: Context, *, period: str, dry_run: bool = False) -> ScanReport:
    """Run the scan for `period` once across replicas; a dry run only reports what it would send."""
    now = context.clock.now()
    report = ScanReport(period=period, dry_run=dry_run, platforms=tuple(sorted(context.platforms)))
    async with context.store.transaction() as tx:
        if not dry_run and not await tx.jobs.claim_run(
            job=JOB, period=period, worker=context.worker, at=now
        ):
            report.ran = False
            return report
        since = await tx.jobs.last_run(job=JOB, excluding=period)
    routed, report.unrouted = route(context.registry, await find(context, now=now, since=since))
    for person, items in sorted(routed.items()):
        card = digest_card(person, items, name=context.people.name(person))
        report.digests.append(Digest(person, card, tuple(items)))
    if dry_run:
        return report
    for digest in report.digests:
        prefer = [
            p
            for f in digest.findings
            if f.system and (system := context.registry.system(f.system))
            for p in _platforms_for(context, system)
        ]
        platform = await context.people.deliver(
            person=digest.person, card=digest.card, prefer=prefer
        )
        if platform is None:
            report.undelivered.append(digest.person)
        else:
            report.delivered[digest.person] = platform
    if report.unrouted:
        log.warning("stale findings with nobody to tell: %s", [f.text for f in report.unrouted])
    done = context.clock.now()
    async with context.store.transaction() as tx:
        for digest in report.digests:
            await tx.evidence.append(
                at=done,
                actor=BOT,
                action="stale.digest_sent"
                if digest.person in report.delivered
                else "stale.digest_undelivered",
                system=None,
                alert_id=None,
                detail={
                    "to": digest.person,
                    "period": period,
                    "platform": report.delivered.get(digest.person),
                    "findings": [{"kind": f.kind, "text": f.text} for f in digest.findings],
                },
            )
        await tx.jobs.finish_run(job=JOB, period=period, at=done, summary=report.summary())
    return report
