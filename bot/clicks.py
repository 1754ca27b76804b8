"""Clicks on an alert's buttons: Acknowledge, Resolve and Hand off on a claim, and
Acknowledge all on a storm board. Only people who may act on the alert (Context.may_act)
change it; two clicks at once record one change."""

from __future__ import annotations

import dataclasses

from bot import cards, learning, render
from bot.cards import Reply
from bot.claims import Claims
from bot.context import Context, actor_of
from bot.domain import Alert, AlertState, MessageRef
from bot.events import ButtonClicked


class Clicks:
    """The handlers of the alert and board buttons."""

    def __init__(self, context: Context, claims: Claims) -> None:
        self.context = context
        self.claims = claims

    async def on_alert(self, event: ButtonClicked) -> Reply | None:
        """Acknowledge, Resolve or Hand off on a claim (or an escalation message)."""
        context = self.context
        alert_id = event.record_id()
        async with context.store.transaction() as tx:
            alert = await tx.alerts.get(alert_id=alert_id) if alert_id is not None else None
        if alert is None:
            return Reply(render.notice("Unknown alert", "This alert is not in the bot's records."))
        person = await context.people.person(event.user)
        system = context.system_of(alert)
        actor = actor_of(person, event.user)
        if not context.may_act(system, alert, person):
            await context.record(
                at=context.clock.now(),
                actor=actor,
                action="alert.click_refused",
                system=alert.system,
                alert_id=alert.id,
                detail={"action": event.action},
            )
            holder = context.people.name(alert.holder)
            scope = f"people named on {alert.system}" if system else "its holder"
            return Reply(
                render.notice(
                    "Not yours to act on",
                    f"{holder} holds this alert; only {scope} may acknowledge, resolve or "
                    "hand it off. Nothing changed.",
                    tone="warning",
                )
            )
        if event.action == cards.HAND_OFF:
            return await self._hand_off(event, alert, actor)
        return await self._change_state(event, alert, actor)

    async def _change_state(self, event: ButtonClicked, alert: Alert, actor: str) -> Reply | None:
        context = self.context
        now = context.clock.now()
        target = AlertState.ACKNOWLEDGED if event.action == cards.ACK else AlertState.RESOLVED
        allowed = (
            (AlertState.OPEN,)
            if target == AlertState.ACKNOWLEDGED
            else (AlertState.OPEN, AlertState.ACKNOWLEDGED)
        )
        async with context.store.transaction() as tx:
            changed = await tx.alerts.change_state(
                alert_id=alert.id, to=target, person=actor, at=now, allowed_from=allowed
            )
            if changed is not None:
                await tx.evidence.append(
                    at=now,
                    actor=actor,
                    action=f"alert.{target.value}",
                    system=alert.system,
                    alert_id=alert.id,
                    detail={"holder": changed.holder, "user": event.user.id},
                )
        if changed is not None and target == AlertState.ACKNOWLEDGED:
            context.observer.acknowledged(seconds=(now - changed.opened_at).total_seconds())
        if changed is None:
            async with context.store.transaction() as tx:
                current = await tx.alerts.get(alert_id=alert.id)
            state = current.state.value if current else "gone"
            by = None
            if current is not None:
                resolved = current.state == AlertState.RESOLVED
                by = current.resolved_by if resolved else current.acknowledged_by
            by = by or "someone"
            return Reply(
                render.notice(
                    f"Already {state}",
                    f"This alert is already {state} (by {context.people.name(by)}). "
                    "Nothing changed.",
                )
            )
        await self.claims.refresh(changed)
        if target == AlertState.RESOLVED:
            return learning.offer(context, changed)
        return None

    async def on_board(self, event: ButtonClicked) -> Reply:
        """Acknowledge every open alert on a storm board that the clicker may act on."""
        context = self.context
        channel, _, message_id = event.value.partition(" ")
        board = MessageRef(event.user.platform, channel, message_id)
        person = await context.people.person(event.user)
        actor = actor_of(person, event.user)
        now = context.clock.now()
        acknowledged = 0
        async with context.store.transaction() as tx:
            for alert in await tx.alerts.on_claim(message=board):
                system = context.system_of(alert)
                if alert.state != AlertState.OPEN or not context.may_act(system, alert, person):
                    continue
                changed = await tx.alerts.change_state(
                    alert_id=alert.id,
                    to=AlertState.ACKNOWLEDGED,
                    person=actor,
                    at=now,
                    allowed_from=(AlertState.OPEN,),
                )
                if changed is None:
                    continue
                acknowledged += 1
                context.observer.acknowledged(seconds=(now - alert.opened_at).total_seconds())
                await tx.evidence.append(
                    at=now,
                    actor=actor,
                    action="alert.acknowledged",
                    system=alert.system,
                    alert_id=alert.id,
                    detail={"holder": actor, "user": event.user.id, "board": message_id},
                )
        if acknowledged:
            self.claims.redraws.mark(board)
        return Reply(
            render.notice(
                f"Acknowledged {acknowledged} alerts",
                "Alerts you are not named on were left to their holders."
                if acknowledged
                else "None of the open alerts on this board are yours to acknowledge.",
            )
        )

    async def _hand_off(self, event: ButtonClicked, alert: Alert, actor: str) -> Reply | None:
        context = self.context
        target = await context.people.person(event.target) if event.target else None
        if target is None:
            return Reply(
                render.notice(
                    "Hand off to a named person",
                    "Pick someone listed in the ownership registry; the alert stays where it is.",
                    tone="warning",
                )
            )
        now = context.clock.now()
        async with context.store.transaction() as tx:
            moved = await tx.alerts.hand_off(alert_id=alert.id, to=target, at=now)
            if moved is not None:
                await tx.evidence.append(
                    at=now,
                    actor=actor,
                    action="alert.handed_off",
                    system=alert.system,
                    alert_id=alert.id,
                    detail={"from": alert.holder, "to": target},
                )
        if moved is None:
            return Reply(render.notice("Already resolved", "Nothing to hand off."))
        await self.claims.refresh(moved)
        card = await self.claims.card(moved)
        title = f"Handed to you by {context.people.name(actor)}: {card.title}"
        await context.people.deliver(
            person=target, card=dataclasses.replace(card, title=title), prefer=[alert.platform]
        )
        return None
