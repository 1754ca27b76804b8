"""Alert admission: whether an inbound message is an alert, and which system it belongs to,
decided once here for every platform (Slack, Teams, the HTTP intake); then the alert is
stored (or counted as a repeat, or resolved) before the platform hears back.

A message is an alert when a structured source names its system, or when it was posted in a
watched channel by an integration (a post that matches no system is an unowned alert), or by
a person whose text names a system (or that the platform marks resolved). People talk in
alert channels too: a person's post that names no system is not an alert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot import render
from bot.context import Context
from bot.domain import BOT, AlertState, AlertTaken
from bot.escalation import plan_steps
from bot.events import AlertSeen
from bot.matching import fingerprint, match_system, registry_channel, status_of
from bot.registry import ChannelId, SystemView
from bot.storage import Transaction

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


class Admission:
    """Takes inbound alerts: admit, then store, with no platform I/O inside the transaction."""

    def __init__(self, context: Context) -> None:
        self.context = context

    async def take(self, event: AlertSeen) -> AlertTaken:
        """Admit and store an alert (or count a repeat, or resolve); no platform I/O.

        Raises whatever the store raises: the caller must then not acknowledge the delivery,
        so the platform delivers it again.
        """
        admitted = admit(self.context, event)
        if admitted is None:
            return NOT_AN_ALERT
        taken = await self._store(event, admitted)
        self.context.observer.alert_taken(system=taken.system, outcome=taken.outcome)
        return taken

    async def _store(self, event: AlertSeen, admitted: Admitted) -> AlertTaken:
        context = self.context
        now = context.clock.now()
        system = admitted.system
        fp = event.fingerprint or fingerprint(event.text, system=system.id if system else None)
        if system is not None:
            open_key = f"{system.id}|{fp}"
        else:
            open_key = f"unowned|{event.platform}:{event.channel}|{fp}"
        title = event.title or _title(event.text)
        # Platform lookups happen before the transaction, never while it holds locks.
        author = await context.people.person(event.author) if event.author else None
        async with context.store.transaction() as tx:
            if not await tx.alerts.remember_event(key=f"{event.platform}:{event.event_id}", at=now):
                return AlertTaken("duplicate")
            if admitted.status == "resolved":
                return await self._resolve_from_text(
                    tx, open_key=open_key, now=now, event=event, author=author
                )
            channel = registry_channel(context.registry, ChannelId(event.platform, event.channel))
            holder = system.operator if system else context.registry.fallback_for(channel)
            alert = await tx.alerts.add(
                platform=event.platform,
                channel=event.channel,
                system=system.id if system else None,
                fingerprint=fp,
                open_key=open_key,
                title=title,
                text=event.text[:4000],
                holder=holder,
                opened_at=now,
                link=event.link,
                source=event.message,
                claim_lease_until=now + context.lease,
            )
            if alert is None and (repeat := await tx.alerts.count_repeat(open_key=open_key)):
                return AlertTaken("repeat", repeat, repeat.system, repeat.holder)
            if alert is None:  # resolved between our insert and our count: the platform retries
                raise RuntimeError(f"alert {open_key} was neither opened nor open")
            steps = plan_steps(system, opened_at=now) if system else []
            await tx.steps.add(alert_id=alert.id, steps=steps)
            await tx.evidence.append(
                at=now,
                actor=BOT,
                action="alert.claimed" if system else "alert.unowned",
                system=alert.system,
                alert_id=alert.id,
                detail={
                    "holder": holder,
                    "title": title,
                    "channel": f"{event.platform}:{event.channel}",
                    "fingerprint": fp,
                    "escalation": [
                        {"person": s.person, "label": s.label, "due_at": render.when(s.due_at)}
                        for s in steps
                    ],
                },
            )
        return AlertTaken("claimed" if system else "unowned", alert, alert.system, holder)

    async def _resolve_from_text(
        self,
        tx: Transaction,
        *,
        open_key: str,
        now: datetime,
        event: AlertSeen,
        author: str | None,
    ) -> AlertTaken:
        """A "resolved" post: from an integration it resolves the open alert as the monitor;
        from a person only if they may act on the alert, and it is recorded as theirs."""
        alert = await tx.alerts.open_with_key(open_key=open_key)
        if alert is None:
            return AlertTaken("ignored")
        actor = "monitor"
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
            detail={"by": actor, "holder": resolved.holder, "from": "message"},
        )
        return AlertTaken("resolved", resolved, resolved.system, resolved.holder)


def _title(text: str) -> str:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "alert")
    return first[:200]
