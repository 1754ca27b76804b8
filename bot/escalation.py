"""Escalation: each alert carries a copy of its system's escalation map (later registry edits
do not change a running escalation); each step that comes due while the alert is still
unacknowledged is leased by one worker, sent by direct message and noted in the alert's
thread, and finished with its evidence in one transaction."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot import render
from bot.cards import Mention
from bot.claims import Claims
from bot.context import Context
from bot.domain import BOT, Alert, AuditDraft, DueStep, PlannedStep
from bot.ports import PlatformError, Unreachable
from bot.registry import SystemView
from bot.storage import Store

log = logging.getLogger(__name__)


def plan_steps(system: SystemView, *, opened_at: datetime) -> list[PlannedStep]:
    """Snapshot the system's map so later registry edits do not change a running escalation."""
    return [
        PlannedStep(position=i, person=e.person, label=e.label, due_at=opened_at + e.after)
        for i, e in enumerate(system.escalation, start=1)
    ]


@dataclass
class TickReport:
    """What one tick did, for logs, metrics and tests."""

    sent: list[int] = field(default_factory=list)
    lost_lease: list[int] = field(default_factory=list)
    claims_posted: list[int] = field(default_factory=list)
    redrawn: int = 0


class SentMarks:
    """Records sent direct messages on their steps right away, so a worker taking a step
    over after a crash does not send it again. Concurrent senders share transactions
    (group commit): whoever finds the writer free commits everything waiting."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: list[tuple[DueStep, str]] = []
        self._writer = asyncio.Lock()

    async def record(self, sent: list[tuple[DueStep, str]]) -> None:
        """Record (step, message id) pairs; returns once they are committed."""
        self._waiting.extend(sent)
        async with self._writer:
            batch, self._waiting = self._waiting, []
            if not batch:
                return  # committed by the writer before us
            async with self.store.transaction() as tx:
                await tx.steps.mark_direct(marks=batch)


class Escalation:
    """Sends due escalation steps exactly once across workers and replicas."""

    def __init__(self, context: Context, claims: Claims) -> None:
        self.context = context
        self.claims = claims
        self._sent_marks = SentMarks(context.store)

    async def send_due(self, report: TickReport) -> None:
        """Lease and send every step due now, a batch at a time."""
        context = self.context
        now = context.clock.now()
        while True:
            async with context.store.transaction() as tx:
                due = await tx.steps.take_due(
                    now=now, lease=context.lease, worker=context.worker, limit=context.batch
                )
                alerts = await tx.alerts.get_many(alert_ids={s.alert_id for s in due})
            await self._send_steps([(s, alerts[s.alert_id]) for s in due], report)
            if len(due) < context.batch:
                return

    async def _send_steps(self, due: list[tuple[DueStep, Alert]], report: TickReport) -> None:
        """Direct messages first (one per person, combined when several steps fall due for
        them at once), recorded as soon as sent; then each step is finished with its evidence
        in one transaction; thread notices go last, paced by the platform."""
        by_person: dict[tuple[str, str], list[tuple[DueStep, Alert]]] = {}
        for step, alert in due:
            by_person.setdefault((alert.platform, step.person), []).append((step, alert))
        # Bounded so a batch does not open hundreds of platform connections at once;
        # the sent marks share transactions (SentMarks), not one each.
        limit = asyncio.Semaphore(32)

        async def direct(
            platform: str, person: str, steps: list[tuple[DueStep, Alert]]
        ) -> dict[int, tuple[str | None, bool]]:
            async with limit:
                return await self._direct(platform, person, steps)

        outcomes = await asyncio.gather(
            *(direct(platform, person, steps) for (platform, person), steps in by_person.items()),
            return_exceptions=True,
        )
        delivered: dict[int, tuple[str | None, bool]] = {}
        for steps, outcome in zip(by_person.values(), outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error(
                    "escalation to %s failed: %r; leases will lapse", steps[0][0].person, outcome
                )
                continue
            delivered.update(outcome)
        now = self.context.clock.now()
        sent = [(s, a) for s, a in due if s.id in delivered]
        async with self.context.store.transaction() as tx:
            done = await tx.steps.finish(
                finished=[(s, delivered[s.id][0]) for s, _ in sent], at=now
            )
            await tx.evidence.append_many(
                entries=[
                    AuditDraft(
                        at=now,
                        actor=BOT,
                        action="alert.escalated",
                        system=alert.system,
                        alert_id=alert.id,
                        detail={
                            "step": step.position,
                            "person": step.person,
                            "label": step.label,
                            "due_at": render.when(step.due_at),
                            "direct_message": delivered[step.id][1],
                        },
                    )
                    for step, alert in sent
                    if step.id in done
                ]
            )
        report.lost_lease += [s.id for s, _ in sent if s.id not in done]
        finished = [(s, a, delivered[s.id][1]) for s, a in sent if s.id in done]
        for step, _, _ in finished:
            report.sent.append(step.id)
            self.context.observer.escalation_sent()
        await asyncio.gather(*(self._thread_notice(s, a, r) for s, a, r in finished))

    async def _direct(
        self, platform: str, person: str, steps: list[tuple[DueStep, Alert]]
    ) -> dict[int, tuple[str | None, bool]]:
        """Message one person about their due steps; step id -> (message id, reached).

        Steps whose message a worker sent before dying keep that message and are not sent
        again. A platform that cannot answer raises: the steps stay leased and come back."""
        people = self.context.people
        done: dict[int, tuple[str | None, bool]] = {
            s.id: (s.direct_message, True) for s, _ in steps if s.direct_message
        }
        new = [(s, a) for s, a in steps if not s.direct_message]
        if not new:
            return done
        user = await people.user(person, platform=platform)
        if user is None:
            return done | {s.id: (None, False) for s, _ in new}
        if len(new) == 1:
            step, alert = new[0]
            mention = Mention(people.name(person), user)
            card = render.escalation_notice(
                alert=alert, person=mention, label=step.label, direct=True
            )
        else:
            card = render.escalation_digest(alerts=[(a, s.label) for s, a in new])
        try:
            message = await self.context.platforms[platform].direct(user=user, card=card)
        except Unreachable as exc:  # definite: recorded, and said in the thread
            log.warning("%s cannot be reached on %s: %s", person, platform, exc)
            return done | {s.id: (None, False) for s, _ in new}
        except PlatformError as exc:
            # Passing (rate limit past the budget, 5xx, timeout): the steps stay leased and
            # come back when the lease lapses; never marked sent as "not reached".
            self.context.observer.escalation_deferred()
            log.error(
                "escalation to %s on %s deferred, the platform is failing (%s); retried",
                person,
                platform,
                exc,
            )
            raise
        try:
            await self._sent_marks.record([(step, message.id) for step, _ in new])
        except Exception:  # the finish below records the id as well
            log.exception("could not record the direct message of %s yet", person)
        return done | {s.id: (message.id, True) for s, _ in new}

    async def _thread_notice(self, step: DueStep, alert: Alert, reached: bool) -> None:
        """Say in the alert's thread who it escalated to (and if they could not be reached)."""
        if alert.claim_combined and alert.claim is not None:
            self.claims.redraws.mark(alert.claim)  # no thread per alert on a board
            return
        chat = self.context.platforms[alert.platform]
        person = await self.context.people.mention(step.person, platform=alert.platform)
        thread = alert.claim or alert.source
        thread_root = thread.thread_root if thread else None
        cards_to_post = [
            render.escalation_notice(alert=alert, person=person, label=step.label, direct=False)
        ]
        if not reached:
            cards_to_post.append(render.unreachable(person=person.name, label=step.label))
        try:
            for card in cards_to_post:
                await chat.post(channel=alert.channel, card=card, thread=thread_root)
        except PlatformError as exc:
            log.warning("escalation notice for alert %s not posted: %s", alert.id, exc)
