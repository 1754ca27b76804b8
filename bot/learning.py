"""The resolve form: offered to whoever resolves an alert (failure class, why the output
passed, a follow-up action with an owner and a due date; bot.follow_ups chases the action).
Only people who may act on the alert answer it; skipping is recorded; all of it is evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot import render
from bot.cards import (
    FORM_OPEN,
    FORM_SKIP,
    FORM_SUBMIT,
    Button,
    Card,
    Form,
    FormField,
    Reply,
)
from bot.context import Context, actor_of
from bot.domain import Alert, AlertState
from bot.events import ButtonClicked
from bot.review import FAILURE_CLASSES, FollowUp, when
from bot.text import clean

DEFAULT_DUE = timedelta(days=7)
ESCALATE_AFTER = timedelta(days=1)  # past due, still open: the steward hears of it
DUE_HOUR = time(9, 0, tzinfo=UTC)  # a due date means that morning
MAX_AHEAD = timedelta(days=366)
WHY_MAX = 300
INTRO = (
    "Three questions for the incident review: what kind of failure, why the output passed, "
    'and who follows up. Skipping is recorded as "not recorded".'
)
ACTION_MAX = 300


def _owner_choices(context: Context, alert: Alert) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The follow-up owner on offer: the learning owner first (the default), then the
    system's other named people and the registry's admins."""
    system = context.system_of(alert)
    registry = context.registry
    default = ""
    keys: list[str] = []
    if system is not None:
        default = system.contract.learning_owner or system.maintainer
        keys = [default, *sorted(system.named_people())]
    keys += list(registry.admins)
    seen: list[str] = []
    for key in keys:
        if key and key not in seen and key in registry.people:
            seen.append(key)
    return default or (seen[0] if seen else ""), tuple(
        (k, registry.people[k].name) for k in seen[:50]
    )


def resolve_form(context: Context, alert: Alert) -> Form:
    """The resolve form of one alert."""
    owner, owners = _owner_choices(context, alert)
    due = (context.clock.now() + DEFAULT_DUE).astimezone(UTC).date().isoformat()
    fields = [
        FormField(
            "failure_class",
            "What kind of failure was it?",
            "choice",
            choices=tuple(FAILURE_CLASSES.items()),
        ),
        FormField("why_passed", "Why did the output pass? (one line)", "text", max_length=WHY_MAX),
        FormField("follow_up", "Follow-up action (optional)", "text", max_length=ACTION_MAX),
    ]
    if owners:
        fields.append(FormField("owner", "Its owner", "choice", choices=owners, initial=owner))
    fields.append(FormField("due", "Due", "date", initial=due))
    return Form(
        title=f"Review of alert #{alert.id}",
        intro=f"{alert.system or 'unowned'}: {alert.title}"[:280],
        fields=tuple(fields),
        submit=FORM_SUBMIT,
        skip=FORM_SKIP,
        value=str(alert.id),
    )


def offer_card(alert: Alert) -> Card:
    """What the resolver sees beside the form, with buttons to open or skip it later."""
    value = str(alert.id)
    return Card(
        title=f"Resolved alert #{alert.id}: {alert.title}"[:300],
        lines=((INTRO,),),
        buttons=(
            Button(FORM_OPEN, "Answer the review questions", value, style="primary"),
            Button(FORM_SKIP, "Skip", value),
        ),
        tone="ok",
    )


def offer(context: Context, alert: Alert) -> Reply:
    """The resolve form for the person who just resolved the alert."""
    return Reply(offer_card(alert), form=resolve_form(context, alert))


async def offer_by_message(context: Context, alert: Alert) -> None:
    """A person resolved the alert with a message: the form goes to them directly (a
    monitor's "resolved" is nobody's to answer)."""
    person = alert.resolved_by
    if person is None or person not in context.registry.people:
        return
    await context.people.deliver(person=person, card=offer_card(alert), prefer=[alert.platform])


async def _allowed(
    context: Context, event: ButtonClicked
) -> tuple[Alert | None, str, Reply | None]:
    """The alert a form click is about and the actor, or the refusal to show."""
    alert_id = event.record_id()
    async with context.store.transaction() as tx:
        alert = await tx.alerts.get(alert_id=alert_id) if alert_id is not None else None
    person = await context.people.person(event.user)
    actor = actor_of(person, event.user)
    if alert is None:
        return None, actor, Reply(render.notice("Unknown alert", "This alert is not on record."))
    if not context.may_act(context.system_of(alert), alert, person):
        await context.record(
            at=context.clock.now(),
            actor=actor,
            action="review.form_refused",
            system=alert.system,
            alert_id=alert.id,
            detail={"action": event.action},
        )
        scope = f"people named on {alert.system}" if alert.system else "its holder"
        return (
            alert,
            actor,
            Reply(
                render.notice(
                    "Not yours to answer",
                    f"Only {scope} may answer the review questions of alert #{alert.id}. "
                    "Nothing was recorded.",
                    tone="warning",
                )
            ),
        )
    if alert.state != AlertState.RESOLVED:
        return (
            alert,
            actor,
            Reply(
                render.notice("Not resolved yet", "The review questions come once it is resolved.")
            ),
        )
    return alert, actor, None


async def open_click(context: Context, event: ButtonClicked) -> Reply | None:
    """ "Answer the review questions": the form again, for someone who may answer it."""
    alert, _, refusal = await _allowed(context, event)
    if refusal is not None or alert is None:
        return refusal
    return offer(context, alert)


@dataclass(frozen=True)
class Answers:
    """A submitted form, checked."""

    failure_class: str | None
    why_passed: str
    action: str
    owner: str | None
    due_at: datetime | None
    problems: tuple[str, ...]


def read_answers(context: Context, alert: Alert, fields: dict[str, str]) -> Answers:
    """Check a form's fields: a known failure class, one line of text, a registry person as
    owner and a due date within a year."""
    problems: list[str] = []
    chosen = fields.get("failure_class", "").strip()
    failure_class = chosen if chosen in FAILURE_CLASSES else None
    if chosen and failure_class is None:
        problems.append(f"unknown failure class {chosen[:40]!r}")
    why = " ".join(clean(fields.get("why_passed", ""), cap=WHY_MAX).split())
    action = " ".join(clean(fields.get("follow_up", ""), cap=ACTION_MAX).split())
    owner: str | None = None
    due_at: datetime | None = None
    if action:
        default, _ = _owner_choices(context, alert)
        owner = fields.get("owner", "").strip() or default
        if owner not in context.registry.people:
            problems.append(f"the follow-up owner {owner[:40]!r} is not in the registry")
        now = context.clock.now()
        raw_due = fields.get("due", "").strip()
        try:
            day = date.fromisoformat(raw_due) if raw_due else (now + DEFAULT_DUE).date()
            due_at = datetime.combine(day, DUE_HOUR)
        except ValueError:
            problems.append(f"the due date {raw_due[:20]!r} is not YYYY-MM-DD")
        if due_at is not None and not now - timedelta(days=1) <= due_at <= now + MAX_AHEAD:
            problems.append("the due date must be from today to a year ahead")
    return Answers(failure_class, why, action, owner, due_at, tuple(problems))


async def submit(context: Context, event: ButtonClicked) -> Reply | None:
    """The form submitted (or skipped): recorded once, with its evidence, in one transaction."""
    alert, actor, refusal = await _allowed(context, event)
    if refusal is not None or alert is None:
        return refusal
    skipped = event.action == FORM_SKIP
    answers = read_answers(context, alert, dict(event.fields))
    if not skipped and answers.problems:
        return Reply(
            render.notice("Not recorded", *(p[:1].upper() + p[1:] + "." for p in answers.problems),
                          tone="warning"),
            form=resolve_form(context, alert),
        )  # fmt: skip
    now = context.clock.now()
    follow_up: FollowUp | None = None
    async with context.store.transaction() as tx:
        kept = await tx.reviews.record_form(
            alert_id=alert.id,
            by=actor,
            at=now,
            skipped=skipped,
            failure_class=answers.failure_class,
            why_passed=answers.why_passed,
        )
        if kept and not skipped and answers.action and answers.owner and answers.due_at:
            follow_up = await tx.reviews.add_follow_up(
                action=answers.action,
                owner=answers.owner,
                due_at=answers.due_at,
                created_by=actor,
                at=now,
                alert_id=alert.id,
                system=alert.system,
            )
        if kept:
            detail: dict[str, object] = {"skipped": skipped}
            if not skipped:
                detail |= {"failure_class": answers.failure_class, "why_passed": answers.why_passed}
            if follow_up is not None:
                detail |= {
                    "follow_up": follow_up.id,
                    "action": follow_up.action,
                    "owner": follow_up.owner,
                    "due_at": when(follow_up.due_at),
                }
            await tx.evidence.append(
                at=now,
                actor=actor,
                action="review.form_skipped" if skipped else "review.form_recorded",
                system=alert.system,
                alert_id=alert.id,
                detail=detail,
            )
    if not kept:
        return Reply(
            render.notice(
                "Already answered",
                f"The review questions of alert #{alert.id} were answered already; "
                "nothing changed.",
            ),
            replace_original=True,
        )
    if skipped:
        return Reply(
            render.notice(
                f"Skipped: alert #{alert.id}",
                'The review will say "not recorded" for why it passed and the failure class.',
            ),
            replace_original=True,
        )
    lines = [
        f"Failure class: {FAILURE_CLASSES.get(answers.failure_class or '', 'not recorded')}.",
        f"Why it passed: {answers.why_passed or 'not recorded'}.",
    ]
    if follow_up is not None:
        lines.append(
            f"Follow-up #{follow_up.id}: {follow_up.action} (owner "
            f"{context.people.name(follow_up.owner)}, due {when(follow_up.due_at)})."
        )
    return Reply(
        render.notice(f"Recorded: review of alert #{alert.id}", *lines, tone="ok"),
        replace_original=True,
    )
