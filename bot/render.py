"""Domain -> neutral cards. Wording lives here so every platform says the same thing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot import cards
from bot.cards import Button, Card, Line, Mention
from bot.domain import Alert, AlertState, StopRequest, SystemStatus
from bot.ports import ActionResult
from bot.registry import Registry, SystemView, format_duration
from bot.storage import StepView


def when(at: datetime) -> str:
    """A time as people in several time zones read it."""
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _in(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    return format_duration(timedelta(seconds=seconds - seconds % 60 if seconds >= 60 else seconds))


def alert_buttons(alert: Alert) -> tuple[Button, ...]:
    """The buttons an alert offers in its current state."""
    value = str(alert.id)
    resolve = Button(cards.RESOLVE, "Resolve", value)
    hand_off = Button(cards.HAND_OFF, "Hand off", value, picks_user=True)
    if alert.state == AlertState.OPEN:
        return (Button(cards.ACK, "Acknowledge", value, style="primary"), resolve, hand_off)
    if alert.state == AlertState.ACKNOWLEDGED:
        return (resolve, hand_off)
    return (Button(cards.REVIEW, "Review", value),)


def claim_card(
    *,
    alert: Alert,
    system: SystemView | None,
    holder: Mention,
    role: str,
    upcoming: Sequence[tuple[StepView, Mention]],
    now: datetime,
) -> Card:
    """The claim in the alert's thread: who holds it, what happens next, and the buttons."""
    name = system.id if system else "unowned"
    lines: list[Line] = []
    if alert.state == AlertState.OPEN:
        if alert.holder is None:
            lines.append(
                (
                    "Nobody owns this alert: no system in the registry matches it and this channel "
                    "has no fallback owner. Add a system or a fallback to the ownership registry.",
                )
            )
        else:
            lines.append(("Claimed for ", holder, f" ({role}). Acknowledge to stop escalation."))
        if upcoming:
            step, who = upcoming[0]
            lines.append(
                (
                    "If unacknowledged, escalates to ",
                    who,
                    f" ({step.label}) at {when(step.due_at)} (in {_in(step.due_at - now)})",
                )
            )
            rest = [f"{m.name} ({s.label}) at {when(s.due_at)}" for s, m in upcoming[1:]]
            if rest:
                lines.append(("then " + ", then ".join(rest) + ".",))
        elif alert.holder is not None:
            lines.append(("No further escalation steps.",))
    elif alert.state == AlertState.ACKNOWLEDGED:
        since = alert.held_since or alert.acknowledged_at or alert.opened_at
        lines.append(("Acknowledged: held by ", holder, f" since {when(since)}."))
    else:
        by = f" by {alert.resolved_by}" if alert.resolved_by else ""
        lines.append((f"Resolved{by} at {when(alert.resolved_at or now)}.",))
        if alert.holder:
            lines.append(("Held by ", holder, "."))
    fields: list[tuple[str, str]] = [("System", system.name if system else "none (unowned)")]
    detail = alert.text.strip()
    if detail and detail != alert.title and alert.state != AlertState.RESOLVED:
        # Integrations put the description and runbook after the first line.
        fields.append(("Details", detail[:300] + ("..." if len(detail) > 300 else "")))
    if alert.repeats:
        fields.append(("Repeats", str(alert.repeats)))
    tone = {"open": "alert", "acknowledged": "warning", "resolved": "ok"}[alert.state.value]
    return Card(
        title=f"{name}: {alert.title}",
        lines=tuple(lines),
        fields=tuple(fields),
        buttons=alert_buttons(alert),
        tone=tone,  # type: ignore[arg-type]
        link=alert.link,
    )


def escalation_notice(*, alert: Alert, person: Mention, label: str, direct: bool) -> Card:
    """The thread post (direct=False) or direct message (direct=True) of a due step."""
    system = alert.system or "unowned"
    if direct:
        lines: tuple[Line, ...] = (
            (f"An alert on {system} is still unacknowledged and escalates to you ({label}).",),
            (f"Open since {when(alert.opened_at)}.",),
        )
    else:
        lines = (("Still unacknowledged: escalated to ", person, f" ({label})."),)
    return Card(
        title=f"Escalation: {system}: {alert.title}",
        lines=lines,
        buttons=alert_buttons(alert),
        tone="alert",
        link=alert.link,
    )


def storm_board_opening() -> Card:
    """The first draw of a channel's storm board, replaced within a tick."""
    return Card(
        title="Alert storm: claims are combined here",
        lines=(
            (
                "Alerts are arriving faster than this channel can be posted to; each is "
                "claimed for its system's operator and listed here.",
            ),
        ),
        tone="alert",
    )


def storm_board(
    *,
    board: str,
    rows: Sequence[tuple[str | None, Mention, Sequence[Alert]]],
    now: datetime,
    shown: int = 40,
) -> Card:
    """A channel's storm board: per system and holder, how many alerts and in what state."""
    total = sum(len(alerts) for _, _, alerts in rows)
    ordered = sorted(rows, key=lambda r: -len(r[2]))
    lines: list[Line] = []
    for system, holder, alerts in ordered[:shown]:
        states = Counter(a.state.value for a in alerts)
        repeats = sum(a.repeats for a in alerts)
        detail = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        extra = f", {repeats} repeats" if repeats else ""
        lines.append(
            (
                f"{system or 'unowned'}: {len(alerts)} alerts ({detail}{extra}), held by ",
                holder,
                ".",
            )
        )
    if len(ordered) > shown:
        rest = sum(len(a) for _, _, a in ordered[shown:])
        lines.append((f"... and {len(ordered) - shown} more systems with {rest} alerts.",))
    lines.append((f"Updated {when(now)}.",))
    return Card(
        title=f"Alert storm: {total} alerts, {len({r[0] for r in rows})} systems",
        lines=tuple(lines),
        buttons=(Button(cards.ACK_BOARD, "Acknowledge all I may", board, style="primary"),),
        tone="alert",
    )


def escalation_digest(*, alerts: Sequence[tuple[Alert, str]], shown: int = 10) -> Card:
    """One direct message for several steps that fell due for one person at once."""
    lines: list[Line] = [
        (f"{len(alerts)} unacknowledged alerts escalate to you now.",),
    ]
    for alert, label in alerts[:shown]:
        lines.append(
            (
                f"#{alert.id} {alert.system or 'unowned'} ({label}): {alert.title},"
                f" open since {when(alert.opened_at)}",
            )
        )
    if len(alerts) > shown:
        lines.append((f"... and {len(alerts) - shown} more.",))
    buttons = tuple(
        Button(cards.ACK, f"Acknowledge #{alert.id}", str(alert.id), style="primary")
        for alert, _ in alerts[:5]
        if alert.state == AlertState.OPEN
    )
    return Card(
        title=f"Escalation: {len(alerts)} alerts need you",
        lines=tuple(lines),
        fields=(("Alerts", ", ".join(f"#{alert.id}" for alert, _ in alerts)),),
        buttons=buttons,
        tone="alert",
    )


def unreachable(*, person: str, label: str) -> Card:
    """Said in the thread when a step's person cannot be messaged directly."""
    return Card(
        title="Escalation could not reach a person directly",
        lines=((f"{person} ({label}) could not be sent a direct message; this was recorded.",),),
        tone="warning",
    )


def notice(title: str, *lines: str, tone: str = "info") -> Card:
    """A short text-only card."""
    return Card(title=title, lines=tuple((ln,) for ln in lines), tone=tone)  # type: ignore[arg-type]


def who_owns(
    *,
    system: SystemView,
    registry: Registry,
    holders: dict[str, Mention],
    confirmations: dict[str, tuple[str, datetime]],
    stale: Sequence[str],
    open_alerts: Sequence[Alert],
    status: SystemStatus,
) -> Card:
    """Everything about who holds a system, in one card."""

    def person(role: str) -> Line:
        return (f"{role.replace('_', ' ').capitalize()}: ", holders[role])

    lines: list[Line] = [person(r) for r in ("operator", "maintainer", "steward", "stop_authority")]
    if system.escalation:
        steps = ", then ".join(
            f"{registry.people[e.person].name} ({e.label}) after {format_duration(e.after)}"
            for e in system.escalation
        )
        lines.append((f"Escalation map: {steps}.",))
    else:
        lines.append(("Escalation map: none; alerts stay with the operator.",))
    if confirmations:
        last = max(at for _, at in confirmations.values())
        lines.append((f"Ownership last confirmed {when(last)}.",))
    else:
        lines.append(("Ownership never confirmed.",))
    if stale:
        lines.append(("Stale: " + "; ".join(stale) + ".",))
    fields = [
        ("Open alerts", str(len(open_alerts))),
        ("Status", "STOPPED" if status.stopped else "running"),
        ("Review every", format_duration(system.review_every)),
        ("Acknowledge", "people named on the system" if system.ack_by == "chain" else "anyone"),
    ]
    if status.stopped and status.changed_at:
        fields.append(("Stopped", f"{when(status.changed_at)} by {status.changed_by}"))
    return Card(
        title=f"Who owns {system.id} ({system.name})",
        lines=tuple(lines),
        fields=tuple(fields),
        tone="warning" if stale or status.stopped else "info",
    )


def confirm_stop(*, request: StopRequest, system: SystemView) -> Card:
    """The holder's confirm/cancel step before a stop or resume runs."""
    verb = request.kind
    action = system.stop if verb == "stop" else system.resume
    how = "a signed webhook" if action is not None and hasattr(action, "url") else "a command"
    reason = f" Reason: {request.reason}" if request.reason else ""
    return Card(
        title=f"Confirm: {verb} {system.id}?",
        lines=((f"This runs the {verb} action of {system.name} ({how}).{reason}",),),
        buttons=(
            Button(cards.STOP_CONFIRM, f"Yes, {verb} {system.id}", str(request.id), style="danger"),
            Button(cards.STOP_CANCEL, "Cancel", str(request.id)),
        ),
        tone="warning",
    )


def stop_result(*, request: StopRequest, result: ActionResult, actor: Mention) -> Card:
    """The outcome of a stop or resume, success or failure, as posted to the system's channels."""
    verb = "stopped" if request.kind == "stop" else "resumed"
    if result.ok:
        title = f"{request.system} {verb}"
        first: Line = (f"{request.system} was {verb} by ", actor, ".")
    else:
        title = f"{request.kind.capitalize()} of {request.system} FAILED"
        first = (f"The {request.kind} action requested by ", actor, " failed.")
    lines: list[Line] = [first, (f"Result: {result.summary}",)]
    if request.reason:
        lines.append((f"Reason: {request.reason}",))
    return Card(title=title, lines=tuple(lines), tone="ok" if result.ok else "alert")


def refused_stop(*, system: SystemView, holder: Mention, kind: str) -> Card:
    """Told to someone who may not stop or resume a system."""
    return Card(
        title=f"Refused: you do not hold stop authority for {system.id}",
        lines=(
            (
                "Only ",
                holder,
                f" may {kind} {system.id}. The attempt was recorded and they have been told.",
            ),
        ),
        tone="warning",
    )


def stop_attempt_alert(*, system: SystemView, asker: Mention, kind: str, reason: str) -> Card:
    """Told to the stop-authority holder when someone else tried."""
    why = f" Reason given: {reason}" if reason else ""
    return Card(
        title=f"Someone asked to {kind} {system.id}",
        lines=(
            (asker, f" asked to {kind} {system.id}; you hold stop authority, so nothing ran.{why}"),
        ),
        tone="warning",
    )


def failed() -> Card:
    """Said when the bot could not finish a request (the error itself is only logged)."""
    return notice(
        "Something went wrong",
        "The bot could not finish this request; the error was logged. Try again in a moment.",
        tone="warning",
    )


def help_card() -> Card:
    """What the bot understands."""
    return notice(
        "Accountability bot",
        "who-owns <system>: who holds a system, its escalation map and open alerts.",
        "who-owns (alone): the systems of this channel.",
        "who-decides <system> [category]: the steward's weekly decision and the decision rights.",
        "stop <system> [reason]: stop a system (stop-authority holder only, with confirmation).",
        "resume <system>: resume a stopped system (stop-authority holder only).",
        "review <alert id | system>: the incident review (a system: its latest resolved alert).",
    )
