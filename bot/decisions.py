"""The steward's weekly decision and the registry's decision rights.

A decision button (continue, stabilize, pause, stop) counts only from the system's steward,
identified by the verified platform user id, or, once the time box ran out undecided, from
the system's `decision_escalation` people. Anyone else is refused, told who can, and the
attempt is recorded. A decision is evidence (`governance.decided`). "Pause" and "stop" go on
to the stop flow (bot.stops: the holder confirms, then the stop action runs) when the decider
holds stop authority; otherwise the holder is told, with the decider's reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot import render, stops
from bot.cards import Card, Line, Reply
from bot.context import Context, actor_of
from bot.events import ButtonClicked, CommandGiven
from bot.registry import SystemView
from bot.registry_fields import KNOWN_CATEGORIES, DecisionRight
from bot.scorecard import DigestRecord
from bot.scorecard_views import iso, parse_decision, when
from bot.text import first_line

HALTING = ("pause", "stop")
REASON_CAP = 200
WORDS = {
    "continue": "continue as planned",
    "stabilize": "stabilize before scaling",
    "pause": "pause for risk remediation",
    "stop": "stop and redesign",
}


def reason_of(text: str) -> str:
    """The optional reason as one capped line (adapters cap it too; this is the rule)."""
    return first_line(text or "", cap=REASON_CAP).strip()


def may_decide(
    system: SystemView, person: str | None, digest: DigestRecord | None, *, now_past_box: bool
) -> bool:
    """The steward always; the decision escalation people once the time box ran out."""
    if person is None:
        return False
    if person == system.steward:
        return True
    return digest is not None and now_past_box and person in system.governance.decision_escalation


def _deciders(context: Context, system: SystemView) -> str:
    others = [context.people.name(p) for p in system.governance.decision_escalation]
    hours = int(system.governance.decision_timebox.total_seconds() // 3600)
    after = f"; after {hours} h without a decision: {', '.join(others)}" if others else ""
    return f"{context.people.name(system.steward)} (steward){after}"


async def decide_click(context: Context, event: ButtonClicked) -> Reply | None:
    """A decision button on a steward digest (or its escalation)."""
    parsed = parse_decision(event.value)
    system = context.registry.system(parsed[1]) if parsed else None
    if parsed is None or system is None:
        return Reply(render.notice("Unknown decision", "This decision is not for a known system."))
    decision = parsed[0]
    person = await context.people.person(event.user)
    now = context.clock.now()
    reason = reason_of(event.text)
    async with context.store.transaction() as tx:
        latest = await tx.governance.latest_digest(system=system.id)
    past_box = latest is not None and now - latest.sent_at >= system.governance.decision_timebox
    if not may_decide(system, person, latest, now_past_box=past_box):
        await context.record(
            at=now,
            actor=actor_of(person, event.user),
            action="governance.refused",
            system=system.id,
            alert_id=None,
            detail={"user": event.user.id, "decision": decision, "steward": system.steward},
        )
        return Reply(
            render.notice(
                f"Not yours to decide: {system.id}",
                f"The weekly decision on {system.id} is for {_deciders(context, system)}."
                " Your attempt was recorded.",
                tone="warning",
            )
        )
    assert person is not None
    async with context.store.transaction() as tx:
        decided = await tx.governance.decide(
            system=system.id, decision=decision, by=person, at=now, reason=reason
        )
        if decided is None:  # decided meanwhile (another click, another replica)
            latest = await tx.governance.latest_digest(system=system.id)
        else:
            await tx.evidence.append(
                at=now,
                actor=person,
                action="governance.decided",
                system=system.id,
                alert_id=None,
                detail={
                    "decision": decision,
                    "reason": reason,
                    "digest_sent_at": iso(decided.sent_at),
                    "steward": system.steward,
                    "user": event.user.id,
                },
            )
    if decided is None:
        return Reply(_already(context, system, latest))
    said = f"Decision recorded: {WORDS[decision]} for {system.id}" + (
        f" ({reason})." if reason else "."
    )
    if decision not in HALTING:
        return Reply(render.notice(f"{decision.capitalize()}: {system.id}", said, tone="ok"))
    return await _halt(context, event, system, person=person, decision=decision, reason=reason,
                       said=said)  # fmt: skip


def _already(context: Context, system: SystemView, latest: DigestRecord | None) -> Card:
    if latest is None or latest.decision is None:
        return render.notice(
            f"No digest to decide on: {system.id}",
            "Decisions answer the weekly digest; none is open for this system.",
        )
    by = context.people.name(latest.decided_by)
    at = when(latest.decided_at) if latest.decided_at else "?"
    return render.notice(
        f"Already decided: {system.id}",
        f"{by} decided {latest.decision} at {at} on the digest of {when(latest.sent_at)}.",
    )


async def _halt(
    context: Context,
    event: ButtonClicked,
    system: SystemView,
    *,
    person: str,
    decision: str,
    reason: str,
    said: str,
) -> Reply:
    """Pause or stop: the stop flow for the holder of stop authority, else the holder told."""
    why = f"governance decision: {decision}" + (f": {reason}" if reason else "")
    if person == system.stop_authority:
        command = CommandGiven(user=event.user, command="stop", args=system.id)
        reply = await stops.request_stop(context, command, system, kind="stop", reason=why)
        card = reply.card
        return dataclasses.replace(
            reply, card=dataclasses.replace(card, lines=((said,), *card.lines))
        )
    holder = system.stop_authority
    name = context.people.name(person)
    card = Card(
        title=f"{name} decided: {decision} {system.id}",
        lines=(
            (
                f"{name} decided to {WORDS[decision]} for {system.id} ({system.name})"
                + (f": {reason}." if reason else "."),
            ),
            (
                f"You hold stop authority for {system.id}. To act on it: stop {system.id}"
                f" {why} (the /stop command in Slack, or to the bot in Teams).",
            ),
        ),
        tone="warning",
    )
    platform = await context.people.deliver(person=holder, card=card, prefer=[event.user.platform])
    await context.record(
        at=context.clock.now(),
        actor=person,
        action="governance.holder_told",
        system=system.id,
        alert_id=None,
        detail={"holder": holder, "decision": decision, "reason": reason, "platform": platform},
    )
    told = "was told, with your reason" if platform else "could not be reached: tell them yourself"
    return Reply(
        render.notice(
            f"{decision.capitalize()}: {system.id}",
            said,
            f"{context.people.name(holder)} holds stop authority for {system.id} and {told}.",
            tone="warning",
        )
    )


# ---- decision rights ---------------------------------------------------------------------------


def right_line(context: Context, right: DecisionRight) -> str:
    """One category's people in one line."""
    name = context.people.name
    informed = ", ".join(name(p) for p in right.informed) or "nobody"
    return (
        f"{right.category}: recommends {name(right.recommends)}, approves"
        f" {name(right.approves)}, executes {name(right.executes)}; informed: {informed}"
    )


def rights_lines(
    context: Context, system: SystemView, *, category: str | None = None
) -> list[Line]:
    """Who decides what on a system: the weekly decision and each category (or one)."""
    lines: list[Line] = [(f"Weekly decision: {_deciders(context, system)}.",)]
    rights = system.decisions
    chosen: Sequence[str] = [category] if category else sorted(rights)
    for name in chosen:
        right = rights.get(name)
        if right is None:
            lines.append((f"{name}: nobody is named in the registry.",))
        else:
            lines.append((right_line(context, right) + ".",))
    if category is None:
        missing = [c for c in KNOWN_CATEGORIES if c not in rights]
        if missing:
            lines.append((f"Undecided categories (nobody named): {', '.join(missing)}.",))
    return lines
