"""AccountabilityService: the only caller of the ports. Adapters hand it neutral events;
the scheduler calls `tick`. Each method owns its transactions and keeps platform I/O
outside them, so a slow chat API never holds a database lock."""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot import cards, render, stale, stops
from bot.cards import Card, Mention, Reply
from bot.domain import (
    BOT,
    Alert,
    AlertState,
    AuditDraft,
    DueStep,
    MessageRef,
)
from bot.escalation import plan_steps
from bot.events import AlertSeen, ButtonClicked, CommandGiven
from bot.matching import fingerprint, match_system, status_of
from bot.people import People
from bot.ports import (
    ChatPlatform,
    Clock,
    NoObserver,
    Observer,
    PlatformError,
    StopRunner,
)
from bot.registry import ChannelId, Registry, SystemView
from bot.storage import Store, Transaction
from bot.storm import Boards, Pace, Redraws

log = logging.getLogger(__name__)

STOP_STUCK_AFTER = timedelta(hours=1)  # longer than any action timeout: its worker is gone
SEEN_EVENTS_KEPT = timedelta(days=2)  # longer than any platform keeps retrying a delivery

Outcome = Literal["claimed", "unowned", "repeat", "resolved", "duplicate", "ignored"]


@dataclass(frozen=True)
class AlertTaken:
    """What happened to an inbound alert; `alert` is None only for duplicates and ignores."""

    outcome: Outcome
    alert: Alert | None = None
    system: str | None = None
    holder: str | None = None


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


def close_matches(word: str, candidates: list[str]) -> list[str]:
    """Systems whose id looks like what was typed."""
    found = difflib.get_close_matches(word, candidates, n=5, cutoff=0.5)
    found += [c for c in candidates if word and word in c and c not in found]
    return found[:5]


class AccountabilityService:
    """Claims alerts, escalates, answers commands and records evidence."""

    def __init__(
        self,
        *,
        registry: Registry,
        store: Store,
        platforms: Mapping[str, ChatPlatform],
        clock: Clock,
        stop_runner: StopRunner,
        worker: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        batch: int = 200,
        observer: Observer | None = None,
        channel_pace: float = 1.0,
        channel_burst: int = 5,
        redraw_every: timedelta = timedelta(seconds=2),
    ) -> None:
        self.registry = registry
        self.store = store
        self.platforms = platforms
        self.clock = clock
        self.stop_runner = stop_runner
        self.worker = worker or uuid.uuid4().hex[:12]
        self.lease = lease
        self.batch = batch
        self.people = People(registry=registry, platforms=platforms)
        self.observer: Observer = observer or NoObserver()
        # Per process: a replica's share of a channel's pace is an approximation that errs
        # toward boards, which cost one message however many replicas open one.
        self.pace = Pace(rate=channel_pace, burst=channel_burst, clock=clock)
        self.boards = Boards(clock=clock, quiet=timedelta(minutes=2))
        self.redraws = Redraws(clock=clock, interval=redraw_every)
        self._sent_marks = SentMarks(store)
        self._housekept: datetime | None = None

    async def record(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        system: str | None,
        alert_id: int | None,
        detail: dict[str, object],
    ) -> None:
        """Append one evidence entry in a transaction of its own."""
        async with self.store.transaction() as tx:
            await tx.evidence.append(
                at=at, actor=actor, action=action, system=system, alert_id=alert_id, detail=detail
            )

    def use_registry(self, registry: Registry) -> None:
        """Switch to a reloaded registry; open alerts keep the escalation maps copied onto them."""
        self.registry = registry
        self.people.use(registry)

    # ---- alerts -------------------------------------------------------------------------

    async def handle_alert(self, event: AlertSeen) -> AlertTaken:
        """Store an alert, then post its claim. Callers that must answer the platform quickly
        call `take_alert`, answer, then `publish`."""
        taken = await self.take_alert(event)
        await self.publish(taken)
        return taken

    async def take_alert(self, event: AlertSeen) -> AlertTaken:
        """Match and store an alert (or count a repeat, or resolve); no platform I/O.

        Raises whatever the store raises: the caller must then not acknowledge the delivery,
        so the platform delivers it again.
        """
        taken = await self._store_alert(event)
        self.observer.alert_taken(system=taken.system, outcome=taken.outcome)
        return taken

    async def _store_alert(self, event: AlertSeen) -> AlertTaken:
        now = self.clock.now()
        channel = ChannelId(event.platform, event.channel)
        system = (
            self.registry.system(event.system)
            if event.system
            else match_system(self.registry, channel=channel, text=event.text)
        )
        status = event.status or status_of(event.text)
        fp = event.fingerprint or fingerprint(event.text, system=system.id if system else None)
        if system is not None:
            open_key = f"{system.id}|{fp}"
        else:
            open_key = f"unowned|{event.platform}:{event.channel}|{fp}"
        title = event.title or _title(event.text)
        # Platform lookups happen before the transaction, never while it holds locks.
        author = await self.people.person(event.author) if event.author else None
        async with self.store.transaction() as tx:
            if not await tx.alerts.remember_event(key=f"{event.platform}:{event.event_id}", at=now):
                return AlertTaken("duplicate")
            if status == "resolved":
                return await self._resolve_from_text(
                    tx, open_key=open_key, now=now, event=event, author=author
                )
            holder = system.operator if system else self.registry.fallback_for(channel)
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
                claim_lease_until=now + self.lease,
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
            system = self.registry.system(alert.system) if alert.system else None
            if not self._may_act(system, alert, author):
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

    async def publish(self, taken: AlertTaken) -> None:
        """Post or update the claim for a stored alert (platform I/O, after the commit)."""
        alert = taken.alert
        if alert is None:
            return
        if taken.outcome in ("claimed", "unowned"):
            await self.post_claim(alert.id, leased=alert)
        elif taken.outcome == "repeat" and alert.claim is not None:
            self.redraws.mark(alert.claim)  # counts are redrawn together, not per repeat
        elif alert.claim is not None:
            await self.refresh_claim(alert)

    async def post_claim(self, alert_id: int, *, leased: Alert | None = None) -> bool:
        """Post the claim of an alert once, even when several workers try. `leased`: the
        alert as its caller just stored it, holding its posting lease. Past the channel's
        pace the claim joins the channel's storm board instead of posting its own message."""
        alert = leased
        if alert is None:
            async with self.store.transaction() as tx:
                if not await tx.alerts.take_claim_post(
                    alert_id=alert_id, now=self.clock.now(), lease=self.lease
                ):
                    return False
                alert = await tx.alerts.get(alert_id=alert_id)
        if alert is None:
            return False
        chat = self.platforms.get(alert.platform)
        if chat is None:
            log.error("no platform %s for alert %s", alert.platform, alert_id)
            return False
        channel = (alert.platform, alert.channel)
        if self.boards.current(channel) is None and self.pace.take(channel):
            card = await self.claim_card(alert)
            thread = alert.source.thread_root if alert.source else None
            message = await chat.post(channel=alert.channel, card=card, thread=thread)
            combined = False
        else:
            message = await self._board(chat, alert)
            combined = True
        async with self.store.transaction() as tx:
            recorded = await tx.alerts.set_claim(
                alert_id=alert_id, message=message, combined=combined
            )
        if not recorded:  # a posting lease lapsed mid-post and another worker posted too
            log.warning(
                "alert %s was claimed twice in %s; the first claim stands",
                alert_id,
                message.channel,
            )
            return False
        if combined:
            self.redraws.mark(message)
        return True

    async def _board(self, chat: ChatPlatform, alert: Alert) -> MessageRef:
        """The channel's storm board, posted by the first alert that needs it."""
        channel = (alert.platform, alert.channel)
        board = self.boards.current(channel)
        if board is not None:
            return await asyncio.shield(board.message)
        board = self.boards.start(channel)
        try:
            message = await chat.post(channel=alert.channel, card=render.storm_board_opening())
        except BaseException as exc:
            self.boards.failed(channel, board, exc)
            raise
        board.message.set_result(message)
        return message

    async def redraw(self) -> int:
        """Redraw the claims and boards that changed since they were last drawn."""
        drawn = 0
        for message in self.redraws.due():
            chat = self.platforms.get(message.platform)
            async with self.store.transaction() as tx:
                alerts = await tx.alerts.on_claim(message=message)
            if chat is None or not alerts:
                self.redraws.drawn(message)
                continue
            if alerts[0].claim_combined:
                card = await self._board_card(alerts)
            else:
                card = await self.claim_card(alerts[0])
            try:
                await chat.update(message=message, card=card)
            except PlatformError as exc:
                log.warning("could not redraw %s: %s", message.id, exc)
                self.redraws.failed(message)
                continue
            self.redraws.drawn(message)
            drawn += 1
        return drawn

    async def _board_card(self, alerts: list[Alert]) -> Card:
        groups: dict[tuple[str | None, str | None], list[Alert]] = {}
        for alert in alerts:
            groups.setdefault((alert.system, alert.holder), []).append(alert)
        platform = alerts[0].platform
        rows = [
            (system, await self.people.mention(holder, platform=platform), members)
            for (system, holder), members in groups.items()
        ]
        board = f"{alerts[0].claim.channel} {alerts[0].claim.id}" if alerts[0].claim else ""
        return render.storm_board(board=board, rows=rows, now=self.clock.now())

    async def claim_card(self, alert: Alert) -> Card:
        """The current claim card of an alert."""
        async with self.store.transaction() as tx:
            steps = await tx.steps.of_alert(alert_id=alert.id)
        system = self.registry.system(alert.system) if alert.system else None
        upcoming = sorted((s for s in steps if s.state == "pending"), key=lambda s: s.due_at)
        mentions = [
            (s, await self.people.mention(s.person, platform=alert.platform)) for s in upcoming
        ]
        return render.claim_card(
            alert=alert,
            system=system,
            holder=await self.people.mention(alert.holder, platform=alert.platform),
            role=self._role_of(system, alert.holder),
            upcoming=mentions,
            now=self.clock.now(),
        )

    async def refresh_claim(self, alert: Alert) -> None:
        """Update the claim message in place to show the alert's current state."""
        if alert.claim is None:
            return
        if alert.claim_combined:
            self.redraws.mark(alert.claim)
            return
        chat = self.platforms.get(alert.platform)
        if chat is None:
            return
        try:
            await chat.update(message=alert.claim, card=await self.claim_card(alert))
        except PlatformError as exc:
            log.warning("could not update claim of alert %s: %s", alert.id, exc)

    async def point_to_claim(
        self, *, alert_id: int, channels: tuple[ChannelId, ...]
    ) -> list[ChannelId]:
        """Tell further channels who holds an alert and where its claim lives; the channels
        reached. An alert has one claim (buttons, in-place updates, escalation thread), so an
        alert received over HTTP is claimed in its system's first channel and pointed to here."""
        async with self.store.transaction() as tx:
            alert = await tx.alerts.get(alert_id=alert_id)
        if alert is None:
            return []
        system = self.registry.system(alert.system) if alert.system else None
        where = f"{alert.platform.capitalize()} channel {alert.channel}"
        reached: list[ChannelId] = []
        for channel in channels:
            chat = self.platforms.get(channel.platform)
            if chat is None:
                continue
            holder = await self.people.mention(alert.holder, platform=channel.platform)
            card = Card(
                title=f"{alert.system or 'unowned'}: {alert.title}",
                lines=(
                    ("Claimed for ", holder, f" ({self._role_of(system, alert.holder)})."),
                    (f"The claim, its buttons and its escalation are in {where}.",),
                ),
                tone="alert",
                link=alert.link,
            )
            try:
                await chat.post(channel=channel.id, card=card)
            except PlatformError as exc:
                log.warning("could not point %s at alert %s: %s", channel, alert_id, exc)
                continue
            reached.append(channel)
        return reached

    def _role_of(self, system: SystemView | None, person: str | None) -> str:
        if system is None:
            return "fallback owner"
        for role, holder in system.roles().items():
            if holder == person:
                return role.replace("_", " ")
        return "hand-off"

    # ---- escalation -----------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """Send every due escalation step once and retry claims that were never posted."""
        report = TickReport()
        now = self.clock.now()
        report.redrawn = await self.redraw()
        await self._housekeeping(now)
        async with self.store.transaction() as tx:
            unposted = await tx.alerts.unposted_claims(now=now, limit=self.batch)
        for alert_id in unposted:
            try:
                if await self.post_claim(alert_id):
                    report.claims_posted.append(alert_id)
            except PlatformError as exc:
                log.warning("claim of alert %s not posted yet: %s", alert_id, exc)
        while True:
            async with self.store.transaction() as tx:
                due = await tx.steps.take_due(
                    now=now, lease=self.lease, worker=self.worker, limit=self.batch
                )
                alerts = await tx.alerts.get_many(alert_ids={s.alert_id for s in due})
            await self._send_steps([(s, alerts[s.alert_id]) for s in due], report)
            if len(due) < self.batch:
                return report

    async def _housekeeping(self, now: datetime) -> None:
        """Hourly: fail stop actions whose worker died mid-run (say so, on the record) and
        forget delivery ids no platform will retry any more."""
        if self._housekept is not None and now - self._housekept < timedelta(hours=1):
            return
        self._housekept = now
        async with self.store.transaction() as tx:
            for request in await tx.stops.requests(state="running", before=now - STOP_STUCK_AFTER):
                summary = "no result was recorded: the bot stopped while the action ran; check it"
                if await tx.stops.move_request(
                    request_id=request.id,
                    from_state="running",
                    to_state="failed",
                    at=now,
                    result=summary,
                ):
                    await tx.evidence.append(
                        at=now,
                        actor=BOT,
                        action=f"{request.kind}.failed",
                        system=request.system,
                        alert_id=None,
                        detail={"request": request.id, "result": summary},
                    )
            await tx.alerts.forget_events_before(before=now - SEEN_EVENTS_KEPT)

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
        now = self.clock.now()
        sent = [(s, a) for s, a in due if s.id in delivered]
        async with self.store.transaction() as tx:
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
            self.observer.escalation_sent()
        await asyncio.gather(*(self._thread_notice(s, a, r) for s, a, r in finished))

    async def _direct(
        self, platform: str, person: str, steps: list[tuple[DueStep, Alert]]
    ) -> dict[int, tuple[str | None, bool]]:
        """Message one person about their due steps; step id -> (message id, reached).

        Steps whose message a worker sent before dying keep that message and are not sent
        again. A platform that cannot answer raises: the steps stay leased and come back."""
        done: dict[int, tuple[str | None, bool]] = {
            s.id: (s.direct_message, True) for s, _ in steps if s.direct_message
        }
        new = [(s, a) for s, a in steps if not s.direct_message]
        if not new:
            return done
        user = await self.people.user(person, platform=platform)
        if user is None:
            return done | {s.id: (None, False) for s, _ in new}
        if len(new) == 1:
            step, alert = new[0]
            mention = Mention(self.people.name(person), user)
            card = render.escalation_notice(
                alert=alert, person=mention, label=step.label, direct=True
            )
        else:
            card = render.escalation_digest(alerts=[(a, s.label) for s, a in new])
        try:
            message = await self.platforms[platform].direct(user=user, card=card)
        except PlatformError as exc:
            log.warning("direct message to %s failed: %s", person, exc)
            return done | {s.id: (None, False) for s, _ in new}
        try:
            await self._sent_marks.record([(step, message.id) for step, _ in new])
        except Exception:  # the finish below records the id as well
            log.exception("could not record the direct message of %s yet", person)
        return done | {s.id: (message.id, True) for s, _ in new}

    async def _thread_notice(self, step: DueStep, alert: Alert, reached: bool) -> None:
        """Say in the alert's thread who it escalated to (and if they could not be reached)."""
        if alert.claim_combined and alert.claim is not None:
            self.redraws.mark(alert.claim)  # no thread per alert on a board: redraw its counts
            return
        chat = self.platforms[alert.platform]
        person = await self.people.mention(step.person, platform=alert.platform)
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

    # ---- buttons --------------------------------------------------------------------------

    async def click(self, event: ButtonClicked) -> Reply | None:
        """Handle a button click; returns what to tell the clicker, if anything."""
        if event.action in (cards.ACK, cards.RESOLVE, cards.HAND_OFF):
            return await self._alert_click(event)
        if event.action in (cards.STOP_CONFIRM, cards.STOP_CANCEL):
            return await stops.stop_click(self, event)
        if event.action == cards.ACK_BOARD:
            return await self._acknowledge_board(event)
        if event.action == cards.ROLE_CONFIRM:
            return await self._role_confirm(event)
        if event.action == cards.ROLE_HAND_OFF:
            return await stale.role_hand_off(self, event)
        return Reply(render.notice("Unknown action", f"{event.action!r} is not a bot action."))

    async def _alert_click(self, event: ButtonClicked) -> Reply | None:
        alert_id = event.record_id()
        async with self.store.transaction() as tx:
            alert = await tx.alerts.get(alert_id=alert_id) if alert_id is not None else None
        if alert is None:
            return Reply(render.notice("Unknown alert", "This alert is not in the bot's records."))
        person = await self.people.person(event.user)
        system = self.registry.system(alert.system) if alert.system else None
        actor = person or f"{event.user.platform}:{event.user.id}"
        if not self._may_act(system, alert, person):
            await self.record(
                at=self.clock.now(),
                actor=actor,
                action="alert.click_refused",
                system=alert.system,
                alert_id=alert.id,
                detail={"action": event.action},
            )
            holder = self.people.name(alert.holder)
            scope = f"people named on {alert.system}" if system else "its holder"
            return Reply(
                render.notice(
                    "Not yours to act on",
                    f"{holder} holds this alert; only {scope} may acknowledge, resolve or "
                    "hand it off. Nothing changed.",
                    tone="warning",
                )
            )
        now = self.clock.now()
        if event.action == cards.HAND_OFF:
            return await self._hand_off(event, alert, actor)
        target = AlertState.ACKNOWLEDGED if event.action == cards.ACK else AlertState.RESOLVED
        allowed = (
            (AlertState.OPEN,)
            if target == AlertState.ACKNOWLEDGED
            else (AlertState.OPEN, AlertState.ACKNOWLEDGED)
        )
        async with self.store.transaction() as tx:
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
            self.observer.acknowledged(seconds=(now - changed.opened_at).total_seconds())
        if changed is None:
            async with self.store.transaction() as tx:
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
                    f"This alert is already {state} (by {self.people.name(by)}). Nothing changed.",
                )
            )
        await self.refresh_claim(changed)
        return None

    async def _acknowledge_board(self, event: ButtonClicked) -> Reply:
        """Acknowledge every open alert on a storm board that the clicker may act on."""
        channel, _, message_id = event.value.partition(" ")
        board = MessageRef(event.user.platform, channel, message_id)
        person = await self.people.person(event.user)
        actor = person or f"{event.user.platform}:{event.user.id}"
        now = self.clock.now()
        acknowledged = 0
        async with self.store.transaction() as tx:
            for alert in await tx.alerts.on_claim(message=board):
                system = self.registry.system(alert.system) if alert.system else None
                if alert.state != AlertState.OPEN or not self._may_act(system, alert, person):
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
                self.observer.acknowledged(seconds=(now - alert.opened_at).total_seconds())
                await tx.evidence.append(
                    at=now,
                    actor=actor,
                    action="alert.acknowledged",
                    system=alert.system,
                    alert_id=alert.id,
                    detail={"holder": actor, "user": event.user.id, "board": message_id},
                )
        if acknowledged:
            self.redraws.mark(board)
        return Reply(
            render.notice(
                f"Acknowledged {acknowledged} alerts",
                "Alerts you are not named on were left to their holders."
                if acknowledged
                else "None of the open alerts on this board are yours to acknowledge.",
            )
        )

    async def _hand_off(self, event: ButtonClicked, alert: Alert, actor: str) -> Reply | None:
        target = await self.people.person(event.target) if event.target else None
        if target is None:
            return Reply(
                render.notice(
                    "Hand off to a named person",
                    "Pick someone listed in the ownership registry; the alert stays where it is.",
                    tone="warning",
                )
            )
        now = self.clock.now()
        async with self.store.transaction() as tx:
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
        await self.refresh_claim(moved)
        card = await self.claim_card(moved)
        title = f"Handed to you by {self.people.name(actor)}: {card.title}"
        await self.deliver(
            person=target, card=dataclasses.replace(card, title=title), prefer=[alert.platform]
        )
        return None

    def _may_act(self, system: SystemView | None, alert: Alert, person: str | None) -> bool:
        if system is not None and system.ack_by == "anyone":
            return True
        if person is None:
            return False
        if person == alert.holder or person in self.registry.admins:
            return True
        return system is not None and person in system.named_people()

    # ---- commands ---------------------------------------------------------------------------

    async def command(self, event: CommandGiven) -> Reply:
        """Answer `who-owns`, `stop`, `resume` or `help`."""
        if event.command == "help":
            return Reply(render.help_card())
        words = event.args.split(maxsplit=1)
        if event.command == "who-owns" and not words:
            return await self._channel_systems(event)
        if not words:
            return Reply(render.notice("Which system?", f"Usage: {event.command} <system>"))
        system = self.registry.system(words[0])
        if system is None:
            return Reply(self.unknown_system(words[0]))
        if event.command == "who-owns":
            return Reply(await self.who_owns(system, platform=event.user.platform))
        return await stops.request_stop(
            self,
            event,
            system,
            kind=event.command,
            reason=words[1].strip() if len(words) > 1 else "",
        )

    def unknown_system(self, word: str) -> Card:
        """The answer to a system id that is not in the registry."""
        near = close_matches(word, sorted(self.registry.systems))
        hint = f"Did you mean: {', '.join(near)}?" if near else "No system has a similar id."
        return render.notice(f"No system called {word!r}", hint, tone="warning")

    async def _channel_systems(self, event: CommandGiven) -> Reply:
        here = [
            s
            for s in self.registry.systems.values()
            if event.channel and ChannelId(event.user.platform, event.channel) in s.channels
        ]
        if not here:
            listed = ", ".join(sorted(self.registry.systems)) or "none"
            return Reply(
                render.notice(
                    "No system lists this channel", f"Ask about one by name. Systems: {listed}."
                )
            )
        lines = [
            f"{s.id}: operator {self.people.name(s.operator)},"
            f" steward {self.people.name(s.steward)}"
            for s in here
        ]
        return Reply(render.notice("Systems of this channel", *lines))

    async def who_owns(self, system: SystemView, *, platform: str) -> Card:
        """The who-owns card of one system."""
        async with self.store.transaction() as tx:
            confirmations = await tx.ownership.confirmations(system=system.id)
            open_alerts = await tx.alerts.unresolved(system=system.id)
            status = await tx.stops.status(system=system.id)
        holders = {
            role: await self.people.mention(person, platform=platform)
            for role, person in system.roles().items()
        }
        return render.who_owns(
            system=system,
            registry=self.registry,
            holders=holders,
            confirmations=confirmations,
            stale=self.stale_roles(system, confirmations),
            open_alerts=open_alerts,
            status=status,
        )

    def stale_roles(
        self, system: SystemView, confirmations: Mapping[str, tuple[str, datetime]]
    ) -> list[str]:
        """Roles not re-confirmed by their current holder within the review period."""
        now = self.clock.now()
        found = []
        for role, person in system.roles().items():
            why = stale.unconfirmed(
                person, confirmations.get(role), every=system.review_every, now=now
            )
            if why is not None:
                found.append(f"{role.replace('_', ' ')} {why}")
        return found

    async def deliver(self, *, person: str, card: Card, prefer: Sequence[str] = ()) -> str | None:
        """Send a card to a person directly on the first platform that reaches them
        (`prefer` first); the platform used, or None when none could."""
        order = [p for p in prefer if p in self.platforms]
        order += [p for p in sorted(self.platforms) if p not in order]
        for platform in order:
            try:
                user = await self.people.user(person, platform=platform)
                if user is None:
                    continue
                await self.platforms[platform].direct(user=user, card=card)
            except PlatformError as exc:
                log.warning("could not reach %s on %s: %s", person, platform, exc)
                continue
            return platform
        return None

    # ---- ownership confirmation ---------------------------------------------------------------

    async def _role_confirm(self, event: ButtonClicked) -> Reply | None:
        system_id, _, role = event.value.partition(":")
        system = self.registry.system(system_id)
        if system is None or role not in system.roles():
            return Reply(render.notice("Unknown role", f"{event.value!r} is not a role on record."))
        person = await self.people.person(event.user)
        holder = system.roles()[role]
        if person != holder:
            return Reply(
                render.notice(
                    "Not your role",
                    f"{self.people.name(holder)} holds {role.replace('_', ' ')} of {system.id}.",
                    tone="warning",
                )
            )
        now = self.clock.now()
        async with self.store.transaction() as tx:
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
                f"You still hold {role.replace('_', ' ')} of {system.id} ({render.when(now)}).",
                tone="ok",
            )
        )


def _title(text: str) -> str:
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "alert")
    return first[:200]
