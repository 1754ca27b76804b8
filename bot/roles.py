"""Role holders confirming their roles ("still mine") and handing them off, and the one rule
for a role that counts as unconfirmed (shared by who-owns and the stale-ownership scan)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot import render
from bot.cards import Reply
from bot.context import Context, actor_of
from bot.events import ButtonClicked
from bot.registry import SystemView, format_duration


def _role(role: str) -> str:
    return role.replace("_", " ")


def unconfirmed(
    person: str, confirmed: tuple[str, datetime] | None, *, every: timedelta, now: datetime
) -> str | None:
    """Why a role's holder counts as unconfirmed (None when they confirmed in time): never
    by this holder, or not within the review period."""
    if confirmed is None or confirmed[0] != person:
        return "never confirmed"
    if now - confirmed[1] > every:
        return f"last confirmed {render.when(confirmed[1])}, review every {format_duration(every)}"
    return None


def stale_roles(
    system: SystemView, confirmations: Mapping[str, tuple[str, datetime]], *, now: datetime
) -> list[str]:
    """Roles not re-confirmed by their current holder within the review period."""
    found = []
    for role, person in system.roles().items():
        why = unconfirmed(person, confirmations.get(role), every=system.review_every, now=now)
        if why is not None:
            found.append(f"{_role(role)} {why}")
    return found


async def role_confirm(context: Context, event: ButtonClicked) -> Reply:
    """A digest's "Still mine": the holder re-confirms a role, on the record."""
    system_id, _, role = event.value.partition(":")
    system = context.registry.system(system_id)
    if system is None or role not in system.roles():
        return Reply(render.notice("Unknown role", f"{event.value!r} is not a role on record."))
    person = await context.people.person(event.user)
    holder = system.roles()[role]
    if person != holder:
        return Reply(
            render.notice(
                "Not your role",
                f"{context.people.name(holder)} holds {_role(role)} of {system.id}.",
                tone="warning",
            )
        )
    now = context.clock.now()
    async with context.store.transaction() as tx:
        await tx.ownership.confirm(system=system.id, role=role, person=person, at=now)
        await tx.evidence.append(
            at=now,
            actor=person,
            action="role.confirmed",
            system=system.id,
            alert_id=None,
            detail={"role": role},
        )
    return Reply(
        render.notice(
            "Confirmed",
            f"You still hold {_role(role)} of {system.id} ({render.when(now)}).",
            tone="ok",
        )
    )


async def role_hand_off(context: Context, event: ButtonClicked) -> Reply:
    """A digest's Hand off: record who should take a role and tell them and the admins.

    The registry file stays the source of truth (it is reviewed like code), so the bot does
    not rewrite it: the request is recorded as evidence and the admins are asked to edit it.
    """
    system_id, _, role = event.value.partition(":")
    system = context.registry.system(system_id)
    if system is None or role not in system.roles():
        return Reply(render.notice("Unknown role", f"{event.value!r} is not a role on record."))
    holder = system.roles()[role]
    person = await context.people.person(event.user)
    actor = actor_of(person, event.user)
    now = context.clock.now()
    if person is None or (
        person != holder and person != system.steward and person not in context.registry.admins
    ):
        await context.record(
            at=now,
            actor=actor,
            action="role.handoff_refused",
            system=system.id,
            alert_id=None,
            detail={"role": role, "holder": holder, "user": event.user.id},
        )
        return Reply(
            render.notice(
                "Not yours to hand off",
                f"{context.people.name(holder)} holds {_role(role)} of {system.id}; only they, "
                f"the steward ({context.people.name(system.steward)}) or a registry admin may "
                "hand it off. Nothing changed.",
                tone="warning",
            )
        )
    target = await context.people.person(event.target) if event.target else None
    if target is None:
        return Reply(
            render.notice(
                "Hand off to a named person",
                "Pick someone listed in the ownership registry; the role stays where it is.",
                tone="warning",
            )
        )
    if target == holder:
        return Reply(
            render.notice(
                "Nothing to hand off",
                f"{context.people.name(target)} already holds {_role(role)} of {system.id}.",
            )
        )
    await context.record(
        at=now,
        actor=actor,
        action="role.handoff_requested",
        system=system.id,
        alert_id=None,
        detail={"role": role, "from": holder, "to": target, "user": event.user.id},
    )
    field_path = f"systems.{system.id}.{role}"
    asked = context.people.name(actor)
    to_target = render.notice(
        f"You are asked to take over {_role(role)} of {system.id}",
        f"{asked} handed you {_role(role)} of {system.id} ({system.name}), held until now by "
        f"{context.people.name(holder)}. It is yours once the ownership registry names you "
        f"(`{field_path}: {target}`); the admins have been asked to make that change.",
    )
    to_admins = render.notice(
        f"Registry change needed: {field_path}",
        f"{asked} handed {_role(role)} of {system.id} from {context.people.name(holder)} to "
        f"{context.people.name(target)}. Set `{field_path}: {target}` in the ownership registry.",
        tone="warning",
    )
    prefer = [event.user.platform]
    await context.people.deliver(person=target, card=to_target, prefer=prefer)
    for admin in context.registry.admins:
        if admin != target:
            await context.people.deliver(person=admin, card=to_admins, prefer=prefer)
    admins = ", ".join(context.people.name(a) for a in context.registry.admins) or "nobody"
    return Reply(
        render.notice(
            "Hand-off recorded",
            f"{context.people.name(target)} has been asked to take {_role(role)} of {system.id}. "
            f"Until the registry is changed (`{field_path}: {target}`; admins: {admins}), "
            f"{context.people.name(holder)} still holds it.",
            tone="ok",
        )
    )
