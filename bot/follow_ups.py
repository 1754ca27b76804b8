"""Follow-up actions from incident reviews, chased like stale roles: a reminder to their owner
when due, the steward told a day later if still open; marked done by their owner; listed by
who-owns while open. Each step is marked with its evidence before it is sent: once across
replicas."""

from __future__ import annotations

from datetime import timedelta

from bot import render
from bot.cards import FOLLOW_UP_DONE, Button, Card, Reply
from bot.context import Context, actor_of
from bot.events import ButtonClicked
from bot.review import FollowUp, when

ESCALATE_AFTER = timedelta(days=1)  # reminded, still open: the steward hears of it


def follow_up_card(context: Context, item: FollowUp, *, title: str) -> Card:
    """A follow-up as its owner (or steward) sees it, with the Done button."""
    about = f" (alert #{item.alert_id}, {item.system})" if item.alert_id else ""
    return Card(
        title=title,
        lines=(
            (f"Follow-up #{item.id}{about}: {item.action}",),
            (f"Owner {context.people.name(item.owner)}, due {when(item.due_at)}.",),
        ),
        buttons=(Button(FOLLOW_UP_DONE, "Done", str(item.id), style="primary"),),
        tone="warning",
    )


async def chase(context: Context) -> tuple[int, int]:
    """Remind owners of follow-ups come due, and tell the steward (a registry admin for a
    follow-up of no system) of those still open a day after their reminder. Each step is
    marked, with its evidence, before it is sent: replicas send it once. Returns (reminded,
    escalated)."""
    now = context.clock.now()
    async with context.store.transaction() as tx:
        remind, escalate = await tx.reviews.follow_ups_to_chase(
            now=now, escalate_after=ESCALATE_AFTER
        )
    reminded = escalated = 0
    for item in remind:
        async with context.store.transaction() as tx:
            mine = await tx.reviews.mark_follow_up(follow_up_id=item.id, at=now, step="reminded")
            if mine:
                await tx.evidence.append(
                    at=now,
                    actor="bot",
                    action="follow_up.reminded",
                    system=item.system,
                    alert_id=item.alert_id,
                    detail={"follow_up": item.id, "owner": item.owner},
                )
        if mine:
            reminded += 1
            card = follow_up_card(context, item, title="A follow-up of yours is due")
            await context.people.deliver(person=item.owner, card=card)
    for item in escalate:
        system = context.registry.system(item.system) if item.system else None
        steward = system.steward if system else next(iter(context.registry.admins), None)
        if steward is None:
            continue
        async with context.store.transaction() as tx:
            mine = await tx.reviews.mark_follow_up(follow_up_id=item.id, at=now, step="escalated")
            if mine:
                await tx.evidence.append(
                    at=now,
                    actor="bot",
                    action="follow_up.escalated",
                    system=item.system,
                    alert_id=item.alert_id,
                    detail={"follow_up": item.id, "owner": item.owner, "to": steward},
                )
        if mine:
            escalated += 1
            title = f"Overdue follow-up owned by {context.people.name(item.owner)}"
            await context.people.deliver(
                person=steward, card=follow_up_card(context, item, title=title)
            )
    return reminded, escalated


async def done_click(context: Context, event: ButtonClicked) -> Reply:
    """Done on a follow-up: its owner (or a registry admin) closes it, with its evidence."""
    follow_up_id = event.record_id()
    person = await context.people.person(event.user)
    actor = actor_of(person, event.user)
    now = context.clock.now()
    async with context.store.transaction() as tx:
        found = [f for f in await tx.reviews.open_follow_ups() if f.id == follow_up_id]
        item = found[0] if found else None
        allowed = item is not None and (
            person == item.owner or (person is not None and person in context.registry.admins)
        )
        if item is not None and allowed:
            done = await tx.reviews.finish_follow_up(follow_up_id=item.id, by=actor, at=now)
            if done:
                await tx.evidence.append(
                    at=now,
                    actor=actor,
                    action="follow_up.done",
                    system=item.system,
                    alert_id=item.alert_id,
                    detail={"follow_up": item.id, "owner": item.owner},
                )
    if item is None:
        return Reply(render.notice("Nothing open", "This follow-up is done already or unknown."))
    if not allowed:
        await context.record(
            at=now,
            actor=actor,
            action="follow_up.done_refused",
            system=item.system,
            alert_id=item.alert_id,
            detail={"follow_up": item.id},
        )
        return Reply(
            render.notice(
                "Not yours to close",
                f"Follow-up #{item.id} belongs to {context.people.name(item.owner)}; only they "
                "mark it done. Nothing changed.",
                tone="warning",
            )
        )
    return Reply(
        render.notice(f"Done: follow-up #{item.id}", item.action, tone="ok"), replace_original=True
    )


def open_lines(context: Context, items: list[FollowUp]) -> tuple[tuple[str], ...]:
    """Open follow-ups as who-owns lists them."""
    now = context.clock.now()
    return tuple(
        (
            f"Open follow-up #{f.id}: {f.action} (owner {context.people.name(f.owner)}, due "
            f"{when(f.due_at)}{', overdue' if f.due_at <= now else ''})",
        )
        for f in items[:10]
    )
