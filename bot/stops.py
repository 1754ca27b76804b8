"""Stop and resume: only the stop-authority holder, identified by platform user id, asks; the
holder confirms within a window; the system's action runs once; everything is on the record
and the result is announced where the system's alerts appear."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import cards, render
from bot.cards import Card, Mention, Reply
from bot.context import Context
from bot.domain import StopRequest
from bot.events import ButtonClicked, CommandGiven
from bot.ports import ActionResult, PlatformError
from bot.registry import SystemView

log = logging.getLogger(__name__)
CONFIRM_WINDOW = timedelta(minutes=15)  # a confirmation is for the situation it was asked in


async def request_stop(
    context: Context,
    event: CommandGiven,
    system: SystemView,
    *,
    kind: str,
    reason: str,
) -> Reply:
    """A `stop` or `resume` command: refuse anyone but the holder (recorded, holder told),
    else record the request and ask the holder to confirm."""
    person = await context.people.person(event.user)
    now = context.clock.now()
    actor = person or f"{event.user.platform}:{event.user.id}"
    if person != system.stop_authority:
        await context.record(
            at=now,
            actor=actor,
            action=f"{kind}.refused",
            system=system.id,
            alert_id=None,
            detail={
                "user": event.user.id,
                "reason": reason,
                "holder": system.stop_authority,
            },
        )
        await tell_holder(context, system, event, kind=kind, reason=reason)
        holder = await context.people.mention(system.stop_authority, platform=event.user.platform)
        return Reply(render.refused_stop(system=system, holder=holder, kind=kind))
    action = system.stop if kind == "stop" else system.resume
    if action is None:
        await context.record(
            at=now,
            actor=actor,
            action=f"{kind}.unavailable",
            system=system.id,
            alert_id=None,
            detail={"reason": reason},
        )
        return Reply(
            render.notice(
                f"No {kind} action for {system.id}",
                f"The registry gives {system.id} no `{kind}` action; nothing ran. "
                "The request was recorded.",
                tone="warning",
            )
        )
    async with context.store.transaction() as tx:
        request = await tx.stops.add_request(
            system=system.id,
            kind=kind,
            requested_by=person,
            user_id=event.user.id,
            platform=event.user.platform,
            reason=reason,
            channel=event.channel,
            at=now,
        )
        await tx.evidence.append(
            at=now,
            actor=person,
            action=f"{kind}.requested",
            system=system.id,
            alert_id=None,
            detail={"request": request.id, "reason": reason},
        )
    return Reply(render.confirm_stop(request=request, system=system))


async def tell_holder(
    context: Context,
    system: SystemView,
    event: CommandGiven,
    *,
    kind: str,
    reason: str,
) -> None:
    """Tell the stop-authority holder that someone else asked to stop or resume."""
    asker_key = await context.people.person(event.user)
    asker = (
        await context.people.mention(asker_key, platform=event.user.platform)
        if asker_key
        else Mention(event.user.id, event.user)
    )
    card = render.stop_attempt_alert(system=system, asker=asker, kind=kind, reason=reason)
    await context.people.deliver(
        person=system.stop_authority, card=card, prefer=[event.user.platform]
    )


async def stop_click(context: Context, event: ButtonClicked) -> Reply | None:
    """Confirm, cancel or let expire a stop request; only the holder, and only once."""
    request_id = event.record_id()
    async with context.store.transaction() as tx:
        request = (
            await tx.stops.get_request(request_id=request_id) if request_id is not None else None
        )
    if request is None:
        return Reply(render.notice("Unknown request", "This stop request is not on record."))
    system = context.registry.system(request.system)
    person = await context.people.person(event.user)
    if system is None or person != system.stop_authority:
        await context.record(
            at=context.clock.now(),
            actor=person or f"{event.user.platform}:{event.user.id}",
            action=f"{request.kind}.refused",
            system=request.system,
            alert_id=None,
            detail={"request": request.id, "user": event.user.id},
        )
        return Reply(
            render.notice(
                "Refused", "Only the stop-authority holder may confirm this.", tone="warning"
            )
        )
    now = context.clock.now()
    cancelling = event.action == cards.STOP_CANCEL
    # A confirmation is for the situation it was asked in, not one found days later.
    expired = now - request.requested_at > CONFIRM_WINDOW
    to_state = "cancelled" if cancelling else "expired" if expired else "running"
    async with context.store.transaction() as tx:
        moved = await tx.stops.move_request(
            request_id=request.id, from_state="requested", to_state=to_state, at=now
        )
        if moved and to_state != "running":
            await tx.evidence.append(
                at=now,
                actor=person,
                action=f"{request.kind}.{to_state}",
                system=request.system,
                alert_id=None,
                detail={"request": request.id},
            )
    if not moved:
        return Reply(
            render.notice("Already handled", "This request was already confirmed or cancelled.")
        )
    if to_state == "cancelled":
        return Reply(
            render.notice(f"Cancelled: {request.kind} {request.system}", "Nothing ran."),
            replace_original=True,
        )
    if to_state == "expired":
        return Reply(
            render.notice(
                f"Expired: {request.kind} {request.system}",
                f"Confirmations last {int(CONFIRM_WINDOW.total_seconds() // 60)} minutes;"
                f" nothing ran. Ask again with {request.kind} {request.system}.",
                tone="warning",
            ),
            replace_original=True,
        )
    return await run_stop(context, request, system, person)


async def run_stop(
    context: Context, request: StopRequest, system: SystemView, person: str
) -> Reply:
    """Run the confirmed action, record the outcome, announce it and answer the holder."""
    action = system.stop if request.kind == "stop" else system.resume
    if action is None:  # the registry changed between request and confirmation
        result = ActionResult(False, f"no {request.kind} action is configured any more")
    else:
        result = await context.stop_runner.run(
            action=action,
            payload={
                "system": system.id,
                "action": request.kind,
                "requested_by": person,
                "reason": request.reason,
                "request_id": request.id,
                "at": render.when(context.clock.now()),
            },
        )
    context.observer.stop_ran(kind=request.kind, ok=result.ok)
    now = context.clock.now()
    async with context.store.transaction() as tx:
        await tx.stops.move_request(
            request_id=request.id,
            from_state="running",
            to_state="done" if result.ok else "failed",
            at=now,
            result=result.summary,
        )
        if result.ok:
            await tx.stops.set_status(
                system=system.id, stopped=request.kind == "stop", at=now, by=person
            )
        await tx.evidence.append(
            at=now,
            actor=person,
            action=f"{request.kind}.{'succeeded' if result.ok else 'failed'}",
            system=system.id,
            alert_id=None,
            detail={"request": request.id, "result": result.summary, "reason": request.reason},
        )
    card = render.stop_result(
        request=request,
        result=result,
        actor=await context.people.mention(person, platform=request.platform),
    )
    await announce(context, system, card, also=(request.platform, request.channel))
    return Reply(card, replace_original=True)


async def announce(
    context: Context, system: SystemView, card: Card, *, also: tuple[str, str | None]
) -> None:
    """Post to every channel of the system (and where the command was given)."""
    targets = {(c.platform, c.id) for c in system.channels}
    if also[1] is not None:
        targets.add((also[0], also[1]))
    for platform, channel in sorted(targets):
        chat = context.platforms.get(platform)
        if chat is None:
            continue
        try:
            await chat.post(channel=channel, card=card)
        except PlatformError as exc:
            log.warning("could not post to %s:%s: %s", platform, channel, exc)
