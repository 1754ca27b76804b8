"""Alert admission: whether an inbound message is an alert, and which system it belongs to,
decided once here for every platform (Slack, Teams, the HTTP intake); then the alert is
stored (or counted as a repeat, or resolved) before the platform hears back.

A message is an alert when a structured source names its system, or when it was posted in a
watched channel by an integration (a post that matches no system is an unowned alert), or by
a person whose text names a system (or that the platform marks resolved). People talk in
alert channels too: a person's post that names no system is not an alert."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot import render
from bot.context import Context
from bot.domain import BOT, Alert, AlertState, AlertTaken, AuditDraft, PlannedStep, UserRef
from bot.escalation import plan_steps
from bot.events import AlertSeen
from bot.matching import fingerprint, match_system, registry_channel, status_of
from bot.registry import ChannelId, SystemView
from bot.storage import NewAlert, Transaction

NOT_AN_ALERT = AlertTaken("not_an_alert")


@dataclass(frozen=True)
class Admitted:
    """An inbound message the bot takes as an alert, and the system it belongs to."""

    system: SystemView | None
    status: Literal["firing", "resolved"]


def watched_ids(context: Context, *, platform: str) -> frozenset[str]:
    """The channel ids of one platform whose posts may be alerts; a translator may skip
    parsing anything else (the same rule `admit` applies)."""
    return frozenset(c.id for c in context.registry.watched() if c.platform == platform)


def admit(context: Context, event: AlertSeen) -> Admitted | None:
    """Whether `event` is an alert (None when not), and its system."""
    registry = context.registry
    channel = registry_channel(registry, ChannelId(event.platform, event.channel))
    if event.system:  # a structured source (the HTTP intake) named it
        system = registry.system(event.system)
    else:
        if channel not in registry.watched():
            return None
        system = match_system(registry, channel=channel, text=event.text)
    if event.author is not None and event.status != "resolved" and system is None:
        return None  # a person talking, not an alert
    return Admitted(system, event.status or status_of(event.text))


@dataclass(frozen=True)
class _Plan:
    """An admitted event and what storing it needs, worked out before the transaction."""

    event: AlertSeen
    admitted: Admitted
    delivery: str
    fingerprint: str
    open_key: str
    title: str


class Admission:
    """Takes inbound alerts: admit, then store, with no platform I/O inside the transaction.
    One alert or a batch (the inbox worker's) take the same path: one transaction and a
    handful of multi-row statements, whatever the batch's size."""

    def __init__(self, context: Context) -> None:
        self.context = context

    async def take(self, event: AlertSeen) -> AlertTaken:
        """Admit and store an alert (or count a repeat, or resolve); no platform I/O.

        Raises whatever the store raises: the caller must then not acknowledge the delivery,
        so the platform delivers it again.
        """
        (taken,) = await self.take_many([event])
        return taken

    async def take_many(
        self,
        events: Sequence[AlertSeen],
        *,
        within: Callable[[Transaction], Awaitable[None]] | None = None,
    ) -> list[AlertTaken]:
        """Admit and store alerts in one transaction, with the outcomes taking them one by
        one in order would give; `within` runs first inside that transaction (the inbox
        marks the batch done there). Raises whatever the store raises."""
        context = self.context
        now = context.clock.now()
        plans = []
        for n, event in enumerate(events, 1):
            plans.append(self._plan(event))
            if n % 25 == 0:
                await asyncio.sleep(0)  # matching a big batch must not hold up the answers

        results = [NOT_AN_ALERT] * len(events)
        live = [(i, p) for i, p in enumerate(plans) if p is not None]
        if not live and within is None:
            return results
        # Platform lookups happen before the transaction, never while it holds locks.
        authors: dict[UserRef, str | None] = {}
        for _, plan in live:
            user = plan.event.author
            if user is not None and user not in authors:
                authors[user] = await context.people.person(user)
        async with context.store.transaction() as tx:
            if within is not None:
                await within(tx)
            fresh = await tx.alerts.remember_events(keys=[p.delivery for _, p in live], at=now)
            firing: list[tuple[int, _Plan]] = []
            for i, plan in live:
                if plan.delivery not in fresh:
                    results[i] = AlertTaken("duplicate")
                    continue
                fresh.discard(plan.delivery)  # the same delivery twice in a batch counts once
                if plan.admitted.status != "resolved":
                    firing.append((i, plan))
                    continue
                await self._open(tx, firing, results, now)  # in order: what fired first opens
                firing = []
                author = authors.get(plan.event.author) if plan.event.author else None
                results[i] = await self._resolve_from_text(
                    tx, open_key=plan.open_key, now=now, event=plan.event, author=author
                )
            await self._open(tx, firing, results, now)
        for i, _ in live:
            taken = results[i]
            context.observer.alert_taken(system=taken.system, outcome=taken.outcome)
        return results

    def _plan(self, event: AlertSeen) -> _Plan | None:
        admitted = admit(self.context, event)
        if admitted is None:
            return None
        system = admitted.system
        fp = event.fingerprint or fingerprint(event.text, system=system.id if system else None)
        if system is not None:
            open_key = f"{system.id}|{fp}"
        else:
            open_key = f"unowned|{event.platform}:{event.channel}|{fp}"
        return _Plan(
            event=event,
            admitted=admitted,
            delivery=f"{event.platform}:{event.event_id}",
            fingerprint=fp,
            open_key=open_key,
            title=event.title or _title(event.text),
        )

    async def _open(
        self,
        tx: Transaction,
        firing: list[tuple[int, _Plan]],
        results: list[AlertTaken],
        now: datetime,
    ) -> None:
        """Open the first alert of each open key, or count it on the alert already open;
        later ones with the same key are repeats."""
        if not firing:
            return
        context = self.context
        first: dict[str, tuple[int, _Plan, str | None]] = {}
        later: list[tuple[int, _Plan]] = []
        for i, plan in firing:
            if plan.open_key in first:
                later.append((i, plan))
                continue
            system = plan.admitted.system
            channel = registry_channel(
                context.registry, ChannelId(plan.event.platform, plan.event.channel)
            )
            holder = system.operator if system else context.registry.fallback_for(channel)
            first[plan.open_key] = (i, plan, holder)
        opened = await tx.alerts.add_many(
            alerts=[_new_alert(plan, holder, now) for _, plan, holder in first.values()],
            claim_lease_until=now + context.lease,
        )
        repeats = Counter(plan.open_key for _, plan in later)
        repeats.update(key for key in first if key not in opened)
        counted = await tx.alerts.count_repeats(counts=repeats)
        steps: dict[int, list[PlannedStep]] = {}
        evidence: list[AuditDraft] = []
        for key, (i, plan, holder) in first.items():
            alert = opened.get(key)
            if alert is None:
                results[i] = _repeat(counted, key)
                continue
            system = plan.admitted.system
            steps[alert.id] = plan_steps(system, opened_at=now) if system else []
            evidence.append(_claimed(alert, plan, holder, steps[alert.id], now))
            results[i] = AlertTaken("claimed" if system else "unowned", alert, alert.system, holder)
        for i, plan in later:
            results[i] = _repeat(counted, plan.open_key)
        await tx.steps.add_many(steps=steps)
        # The registry in force now is the one a review names as the owner then.
        await tx.reviews.set_alert_versions(alert_ids=list(steps), version=context.registry.version)
        await tx.evidence.append_many(entries=evidence)

    async def _resolve_from_text(
        self,
        tx: Transaction,
        *,
        open_key: str,
        now: datetime,
        event: AlertSeen,
        author: str | None,
    ) -> AlertTaken:
        """A "resolved" post: from the integration that posted the firing alert it resolves
        the open alert as the monitor; from a person only if they may act on the alert, and it
        is recorded as theirs. Anything else (a workflow or webhook that anyone can make post
        "[RESOLVED]") is refused and the refusal recorded."""
        alert = await tx.alerts.open_with_key(open_key=open_key)
        if alert is None:
            return AlertTaken("ignored")
        actor = "monitor"
        if event.author is None and not _same_integration(alert, event.integration):
            await tx.evidence.append(
                at=now,
                actor=BOT,
                action="alert.resolve_refused",
                system=alert.system,
                alert_id=alert.id,
                detail={"integration": event.integration, "fired_by": alert.integration},
            )
            return AlertTaken("ignored")
        if event.author is not None:
            if not self.context.may_act(self.context.system_of(alert), alert, author):
                return AlertTaken("ignored")
            actor = author or f"{event.author.platform}:{event.author.id}"
        resolved = await tx.alerts.change_state(
            alert_id=alert.id,
            to=AlertState.RESOLVED,
            person=actor,
            at=now,
            allowed_from=(AlertState.OPEN, AlertState.ACKNOWLEDGED),
        )
        if resolved is None:
            return AlertTaken("ignored")
        await tx.evidence.append(
            at=now,
            actor=actor,
            action="alert.resolved",
            system=resolved.system,
            alert_id=resolved.id,
            detail={
                "by": actor,
                "holder": resolved.holder,
                "from": "message",
                "integration": event.integration if event.author is None else None,
            },
        )
        return AlertTaken("resolved", resolved, resolved.system, resolved.holder)


def _same_integration(alert: Alert, integration: str | None) -> bool:
    """Only the integration that posted the firing alert may resolve it by a post."""
    return integration is not None and integration == alert.integration


def _new_alert(plan: _Plan, holder: str | None, now: datetime) -> NewAlert:
    event = plan.event
    return NewAlert(
        platform=event.platform,
        channel=event.channel,
        system=plan.admitted.system.id if plan.admitted.system else None,
        fingerprint=plan.fingerprint,
        open_key=plan.open_key,
        title=plan.title,
        text=event.text[:4000],
        holder=holder,
        opened_at=now,
        link=event.link,
        source=event.message,
        integration=event.integration if event.author is None else None,
    )


def _repeat(counted: dict[str, Alert], open_key: str) -> AlertTaken:
    alert = counted.get(open_key)
    if alert is None:  # resolved between our insert and our count: the platform retries
        raise RuntimeError(f"alert {open_key} was neither opened nor open")
    return AlertTaken("repeat", alert, alert.system, alert.holder)


def _claimed(
    alert: Alert, plan: _Plan, holder: str | None, steps: list[PlannedStep], now: datetime
) -> AuditDraft:
    return AuditDraft(
        at=now,
        actor=BOT,
        action="alert.claimed" if alert.system else "alert.unowned",
        system=alert.system,
        alert_id=alert.id,
        detail={
            "holder": holder,
            "title": plan.title,
            "channel": f"{plan.event.platform}:{plan.event.channel}",
            "fingerprint": plan.fingerprint,
            "integration": alert.integration,
            "escalation": [
                {"person": s.person, "label": s.label, "due_at": render.when(s.due_at)}
                for s in steps
            ],
        },
    )


def _title(text: str) -> str:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "alert")
    return first[:200]
