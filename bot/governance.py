"""The weekly governance cadence: each steward's digest on GOVERNANCE_CRON, sent once across
replicas, and the time box on a decision. Scorecards come from bot.scorecard; the decision
buttons and what they do live in bot.decisions.

A run claims its cron period (`tx.jobs.claim_run`, as the stale scan does), so one replica
sends it; each system's digest is recorded (`tx.governance.add_digest`, unique per system and
period) before it is sent, so nothing is sent twice. A digest left undecided past the system's
`decision_timebox` goes once to its `decision_escalation` people (the registry's admins by
default), who may then decide in the steward's place; the next scorecard says "no decision".
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import scorecard_views as views
from bot.cards import Card, TextField
from bot.context import Context
from bot.domain import BOT
from bot.registry import Registry, SystemView
from bot.roles import stale_roles
from bot.scorecard import DigestRecord, Scorecard, scorecards, system_info

log = logging.getLogger(__name__)

JOB = "governance-digest"
SENDING = "sending"  # a digest's delivery state while one worker sends it (its lease)
PERIOD = timedelta(days=7)
REASON = TextField(
    label="Reason (optional, one line)",
    placeholder="Why: goes on the record with your decision",
    max_length=200,
)


async def scorecards_at(
    context: Context, *, systems: Sequence[SystemView], now: datetime, length: timedelta = PERIOD
) -> list[Scorecard]:
    """The scorecards of `systems` for the period of `length` ending `now`, from the record
    (one batched read) with each system's stale roles."""
    ids = [s.id for s in systems]
    async with context.store.transaction() as tx:
        record = await tx.governance.scorecard_record(
            since=now - 2 * length, until=now, systems=ids
        )
        confirmations = {s.id: await tx.ownership.confirmations(system=s.id) for s in systems}
    stale = {s.id: stale_roles(s, confirmations[s.id], now=now) for s in systems}
    record = dataclasses.replace(record, stale_roles=stale)
    return scorecards(
        systems=[system_info(s) for s in systems], record=record, now=now, length=length
    )


def platforms_for(context: Context, systems: Sequence[SystemView]) -> list[str]:
    """Where a steward is looked for first: the configured platforms of their systems'
    channels, in order of first appearance."""
    found: list[str] = []
    for system in systems:
        for channel in system.channels:
            if channel.platform in context.platforms and channel.platform not in found:
                found.append(channel.platform)
    return found


@dataclass(frozen=True)
class StewardDigest:
    """One steward's digest in one run."""

    steward: str
    systems: tuple[str, ...]
    card: Card
    scorecards: tuple[Scorecard, ...] = field(default=(), repr=False)


@dataclass
class DigestReport:
    """What a run sent; `ran` is False when another replica had this period."""

    period: str
    dry_run: bool
    ran: bool = True
    digests: list[StewardDigest] = field(default_factory=list)
    delivered: dict[str, str] = field(default_factory=dict)
    undelivered: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the job record."""
        if not self.ran:
            return f"period {self.period} already run by another replica"
        return (
            f"{len(self.digests)} steward digests, {len(self.delivered)} delivered, "
            f"{len(self.undelivered)} undelivered"
        )

    def text(self, registry: Registry) -> str:
        """The report as `governance --dry-run` prints it: who gets which digest."""
        verb = "would be sent" if self.dry_run else "sent"
        out = [f"Governance digests for period {self.period}" + (" (dry run)" * self.dry_run)]
        out.append(f"{len(self.digests)} steward digest(s) {verb}.")
        for d in self.digests:
            person = registry.people.get(d.steward)
            name = person.name if person else d.steward
            out += ["", f"--- to {name} ({d.steward}): {', '.join(d.systems)} ---"]
            out.append(d.card.plain_text())
            if d.card.buttons:
                out.append("[" + "] [".join(b.label for b in d.card.buttons) + "]")
            if d.card.text_field:
                out.append(f"({d.card.text_field.label})")
        return "\n".join(out)


def digest_card(context: Context, steward: str, cards: Sequence[Scorecard]) -> Card:
    """A steward's digest: their systems' scorecards, the four decisions, a reason box."""
    card = views.steward_digest(steward_name=context.people.name(steward), cards=cards)
    return dataclasses.replace(card, text_field=REASON)


async def plan(context: Context, *, now: datetime) -> list[StewardDigest]:
    """Every steward's digest as it would be sent now, stewards in key order."""
    systems = list(context.registry.systems.values())
    cards = await scorecards_at(context, systems=systems, now=now)
    by_steward: dict[str, list[Scorecard]] = defaultdict(list)
    for card in cards:
        by_steward[card.system.steward].append(card)
    return [
        StewardDigest(
            steward,
            tuple(c.system.id for c in mine),
            digest_card(context, steward, mine),
            tuple(mine),
        )
        for steward, mine in sorted(by_steward.items())
    ]


async def run(context: Context, *, period: str, dry_run: bool = False) -> DigestReport:
    """Send every steward their digest for `period`, once across replicas; a dry run only
    reports what would be sent."""
    now = context.clock.now()
    report = DigestReport(period=period, dry_run=dry_run)
    if not dry_run:
        async with context.store.transaction() as tx:
            if not await tx.jobs.claim_run(job=JOB, period=period, worker=context.worker, at=now):
                report.ran = False
                return report
    planned = await plan(context, now=now)
    if dry_run:
        report.digests = planned
        return report
    for digest in planned:
        async with context.store.transaction() as tx:
            fresh = [
                system
                for system in digest.systems
                if await tx.governance.add_digest(
                    system=system, period=period, steward=digest.steward, at=now, platform=SENDING
                )
                is not None
            ]
        if not fresh:
            continue
        if len(fresh) < len(digest.systems):  # some recorded by an earlier run: not resent
            mine = tuple(c for c in digest.scorecards if c.system.id in fresh)
            card = digest_card(context, digest.steward, mine)
            digest = StewardDigest(digest.steward, tuple(fresh), card, mine)
        report.digests.append(digest)
        platform = await _send(context, digest, period=period, record_failure=True)
        if platform is None:
            report.undelivered.append(digest.steward)
        else:
            report.delivered[digest.steward] = platform
    async with context.store.transaction() as tx:
        await tx.jobs.finish_run(
            job=JOB, period=period, at=context.clock.now(), summary=report.summary()
        )
    return report


def _views(context: Context, ids: Sequence[str]) -> list[SystemView]:
    return [s for i in ids if (s := context.registry.system(i)) is not None]


async def _send(
    context: Context, digest: StewardDigest, *, period: str, record_failure: bool
) -> str | None:
    """Deliver a digest whose rows this worker holds (`SENDING`), then record where it went;
    undelivered, the rows go back to be retried (`retry_unsent`) until the time box."""
    platform = await context.people.deliver(
        person=digest.steward,
        card=digest.card,
        prefer=platforms_for(context, _views(context, digest.systems)),
    )
    async with context.store.transaction() as tx:
        await tx.governance.mark_digests(
            systems=digest.systems, period=period, platform=platform, was=SENDING
        )
        if platform is not None or record_failure:
            await tx.evidence.append(
                at=context.clock.now(),
                actor=BOT,
                action="governance.digest_sent" if platform else "governance.digest_undelivered",
                system=None,
                alert_id=None,
                detail={
                    "to": digest.steward,
                    "period": period,
                    "systems": list(digest.systems),
                    "platform": platform,
                },
            )
    if platform is None:
        log.warning("steward digest undelivered; retried", extra={"steward": digest.steward})
    return platform


async def retry_unsent(context: Context) -> list[StewardDigest]:
    """Send again the digests a passing platform failure left undelivered (until they are
    decided or escalated), each held by one worker at a time; those delivered now."""
    now = context.clock.now()
    async with context.store.transaction() as tx:
        unsent = await tx.governance.unsent_digests()
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for system, period, steward in unsent:
        grouped[(steward, period)].append(system)
    delivered: list[StewardDigest] = []
    for (steward, period), systems in grouped.items():
        async with context.store.transaction() as tx:
            held = await tx.governance.mark_digests(
                systems=systems, period=period, platform=SENDING, was=None
            )
        views = _views(context, held)
        if len(views) < len(held):  # removed from the registry: nothing left to send
            async with context.store.transaction() as tx:
                await tx.governance.mark_digests(
                    systems=[s for s in held if s not in {v.id for v in views}],
                    period=period,
                    platform="removed",
                    was=SENDING,
                )
        if not views:
            continue
        cards = await scorecards_at(context, systems=views, now=now)
        digest = StewardDigest(
            steward, tuple(v.id for v in views), digest_card(context, steward, cards), tuple(cards)
        )
        if await _send(context, digest, period=period, record_failure=False):
            delivered.append(digest)
    return delivered


# ---- the time box ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalated:
    """An undecided digest handed to the higher authority."""

    system: str
    sent_at: datetime
    to: tuple[str, ...]
    delivered: tuple[str, ...]


def escalation_card(context: Context, system: SystemView, digest: DigestRecord) -> Card:
    """What the higher authority gets when a steward let the time box run out."""
    hours = int(system.governance.decision_timebox.total_seconds() // 3600)
    steward = context.people.name(system.steward)
    return Card(
        title=f"No decision on {system.id}: you decide",
        lines=(
            (
                f"{steward}, steward of {system.id} ({system.name}), made no decision within"
                f" {hours} h of the weekly digest of {views.when(digest.sent_at)}. The registry"
                " names you to decide in their place: continue, stabilize before scaling,"
                " pause for risk remediation, or stop and redesign.",
            ),
            (f"The scorecard: accountability-bot scorecard {system.id}",),
        ),
        buttons=views.decision_buttons(system.id),
        text_field=REASON,
        tone="warning",
    )


async def escalate_undecided(context: Context) -> list[Escalated]:
    """Hand every digest undecided past its system's time box to the system's
    `decision_escalation` people, once across replicas (marked before it is sent)."""
    now = context.clock.now()
    async with context.store.transaction() as tx:
        pending = await tx.governance.undecided_digests(sent_before=now)
    done: list[Escalated] = []
    for digest_id, digest in pending:
        system = context.registry.system(digest.system)
        if system is not None and now - digest.sent_at < system.governance.decision_timebox:
            continue
        to = system.governance.decision_escalation if system is not None else ()
        async with context.store.transaction() as tx:
            if not await tx.governance.mark_digest_escalated(
                digest_id=digest_id, to=",".join(to)[:255], at=now
            ):
                continue  # another replica took it
            await tx.evidence.append(
                at=now,
                actor=BOT,
                action="governance.escalated",
                system=digest.system,
                alert_id=None,
                detail={
                    "digest_sent_at": views.iso(digest.sent_at),
                    "steward": system.steward if system else None,
                    "to": list(to),
                },
            )
        if system is None:
            continue  # removed from the registry: nobody to ask, but on the record
        card = escalation_card(context, system, digest)
        reached = []
        for person in to:
            if await context.people.deliver(
                person=person, card=card, prefer=platforms_for(context, [system])
            ):
                reached.append(person)
        if not to:
            log.warning("no decision escalation for %s: no admins in the registry", system.id)
        done.append(Escalated(system.id, digest.sent_at, to, tuple(reached)))
    return done
