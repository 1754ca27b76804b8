"""Claims: the message in an alert's thread that names who holds it, posted once (a lease on
the post) and updated in place; past a channel's pace, claims join the channel's storm board
(bot.storm) instead of posting one message each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot import render
from bot.cards import Card
from bot.context import Context
from bot.domain import BOT, Alert, AlertTaken, MessageRef
from bot.ports import ChatPlatform, ClaimTag, PlatformError, TaggedPosts, Unreachable
from bot.registry import ChannelId, SystemView
from bot.storm import Boards, Pace, Redraws

log = logging.getLogger(__name__)


def role_of(system: SystemView | None, person: str | None) -> str:
    """What a holder is on an alert's system (operator, steward, ...), for a claim card."""
    if system is None:
        return "fallback owner"
    for role, holder in system.roles().items():
        if holder == person:
            return role.replace("_", " ")
    return "hand-off"


class Claims:
    """Posts, redraws and points to claims; owns the per-channel pace and storm boards."""

    def __init__(
        self,
        context: Context,
        *,
        channel_pace: float,
        channel_burst: int,
        redraw_every: timedelta,
    ) -> None:
        self.context = context
        clock = context.clock
        # Per process: a replica's share of a channel's pace is an approximation that errs
        # toward boards, which cost one message however many replicas open one.
        self.pace = Pace(rate=channel_pace, burst=channel_burst, clock=clock)
        self.boards = Boards(clock=clock, quiet=timedelta(minutes=2))
        self.redraws = Redraws(clock=clock, interval=redraw_every)
        self._told: dict[ChannelId, datetime] = {}  # channels reported unreachable, until
        self._posting: set[int] = set()  # alerts whose own claim this process is posting

    async def publish(self, taken: AlertTaken) -> None:
        """Post or update the claim for a stored alert (platform I/O, after the commit)."""
        alert = taken.alert
        if alert is None:
            return
        if taken.outcome in ("claimed", "unowned"):
            await self.post(alert.id, leased=alert)
        elif taken.outcome == "repeat" and alert.claim is not None:
            self.redraws.mark(alert.claim)  # counts are redrawn together, not per repeat
        elif alert.claim is not None:
            await self.refresh(alert)

    async def publish_many(self, taken: Sequence[AlertTaken]) -> None:
        """Publish a batch after its commit. Per channel, claims within its pace post their own
        message and the rest join the channel's storm board in one statement; channels go in
        parallel. A claim that fails to post keeps its lease, and the tick posts it later."""
        by_channel: dict[tuple[str, str], list[Alert]] = {}
        for one in taken:
            if one.alert is not None and one.outcome in ("claimed", "unowned"):
                by_channel.setdefault((one.alert.platform, one.alert.channel), []).append(one.alert)
            else:
                await self.publish(one)
        failures = await asyncio.gather(
            *(self._post_in_channel(alerts) for alerts in by_channel.values()),
            return_exceptions=True,
        )
        for failure in failures:
            if isinstance(failure, Exception):
                log.warning("claims not posted yet (the tick retries): %s", failure)

    async def _post_in_channel(self, alerts: list[Alert]) -> None:
        channel = (alerts[0].platform, alerts[0].channel)
        chat = self.context.platforms.get(channel[0])
        if chat is None:
            log.error("no platform %s for %d alerts", channel[0], len(alerts))
            return
        joining: list[Alert] = []
        try:
            for alert in alerts:
                if not joining and self.boards.current(channel) is None and self.pace.take(channel):
                    await self._post_own(chat, alert)
                else:
                    joining.append(alert)
            if joining:
                await self._join_board(chat, joining)
        except Unreachable as exc:
            await self._cannot_post(alerts[0], exc)
            raise

    async def post(self, alert_id: int, *, leased: Alert | None = None) -> bool:
        """Post the claim of an alert once, even when several workers try. `leased`: the
        alert as its caller just stored it, holding its posting lease. Past the channel's
        pace the claim joins the channel's storm board instead of posting its own message."""
        context = self.context
        alert = leased
        if alert is None:
            async with context.store.transaction() as tx:
                if not await tx.alerts.take_claim_post(
                    alert_id=alert_id, now=context.clock.now(), lease=context.lease
                ):
                    return False
                alert = await tx.alerts.get(alert_id=alert_id)
        if alert is None:
            return False
        chat = context.platforms.get(alert.platform)
        if chat is None:
            log.error("no platform %s for alert %s", alert.platform, alert_id)
            return False
        channel = (alert.platform, alert.channel)
        try:
            if self.boards.current(channel) is None and self.pace.take(channel):
                # Without `leased` this worker took a lapsed lease over: its holder may have
                # posted and crashed before recording, so look for that message first.
                return await self._post_own(chat, alert, adopt=leased is None)
            return alert.id in await self._join_board(chat, [alert])
        except Unreachable as exc:
            # The bot is not in the channel, or it does not exist: the claim stays unposted
            # (retried, so it goes out once someone invites the bot) and a person is told.
            await self._cannot_post(alert, exc)
            raise

    async def _post_own(self, chat: ChatPlatform, alert: Alert, *, adopt: bool = False) -> bool:
        """Post a claim message of its own in the alert's thread and record it. Never twice
        at once in this process: a post slower than its lease (a channel's queue, a long
        Retry-After) is not posted again by this process's tick meanwhile. `adopt`: first
        look for a tagged claim posted earlier and unrecorded (a crash), and record that."""
        if alert.id in self._posting:
            return False
        self._posting.add(alert.id)
        try:
            thread = alert.source.thread_root if alert.source else None
            message = await self._send(chat, alert, thread=thread, adopt=adopt)
            async with self.context.store.transaction() as tx:
                recorded = await tx.alerts.set_claim(alert_id=alert.id, message=message)
        finally:
            self._posting.discard(alert.id)
        if not recorded:  # a posting lease lapsed mid-post and another worker posted too
            log.warning(
                "alert %s was claimed twice in %s; the first claim stands",
                alert.id,
                message.channel,
            )
        return recorded

    async def _send(
        self, chat: ChatPlatform, alert: Alert, *, thread: str | None, adopt: bool
    ) -> MessageRef:
        """The claim message: one posted before and found by its tag, else a new post."""
        if not isinstance(chat, TaggedPosts):
            card = await self.card(alert)
            return await chat.post(channel=alert.channel, card=card, thread=thread)
        tag = ClaimTag(alert_id=alert.id, opened_at=alert.opened_at)
        if adopt:
            found = await chat.find_tagged(channel=alert.channel, thread=thread, tag=tag)
            if found is not None:
                log.info("adopted the claim of alert %s posted before (%s)", alert.id, found.id)
                self.redraws.mark(found)  # drawn before the crash: show the current state
                return found
        card = await self.card(alert)
        return await chat.post(channel=alert.channel, card=card, thread=thread, tag=tag)

    async def _join_board(self, chat: ChatPlatform, alerts: list[Alert]) -> set[int]:
        """Put alerts of one channel on its storm board (one statement); the ids recorded."""
        board = await self._board(chat, alerts[0])
        async with self.context.store.transaction() as tx:
            recorded = await tx.alerts.set_claims(
                alert_ids=[a.id for a in alerts], message=board, combined=True
            )
        if len(recorded) < len(alerts):  # lapsed posting leases: another worker posted them
            log.warning("%d claims were already posted elsewhere", len(alerts) - len(recorded))
        if recorded:
            self.redraws.mark(board)
        return recorded

    async def _cannot_post(self, alert: Alert, exc: Exception) -> None:
        """Tell the channel's fallback owner, else the registry's admins, once an hour (per
        process), that claims cannot be posted in a channel, and record it."""
        context = self.context
        now = context.clock.now()
        where = ChannelId(alert.platform, alert.channel)
        if self._told.get(where, now) > now:
            return
        self._told[where] = now + timedelta(hours=1)
        registry = context.registry
        fallback = registry.fallback_for(where)
        told = [fallback] if fallback else list(registry.admins)
        card = render.notice(
            f"I cannot post claims in {alert.channel}",
            f"Posting the claim of alert {alert.id} ({alert.title}) failed: {exc}.",
            "Invite me to the channel (Slack: /invite @Accountability) or fix the channel "
            "in the registry; the claim is posted as soon as I can.",
            tone="warning",
        )
        reached = [p for p in told if await context.people.deliver(person=p, card=card)]
        async with context.store.transaction() as tx:
            await tx.evidence.append(
                at=now,
                actor=BOT,
                action="claim.channel_unreachable",
                system=alert.system,
                alert_id=alert.id,
                detail={"channel": f"{alert.platform}:{alert.channel}", "told": reached},
            )

    async def post_unposted(self) -> list[int]:
        """Post the claims whose posting lease lapsed unposted (a crash, a platform outage);
        the ids posted."""
        context = self.context
        async with context.store.transaction() as tx:
            unposted = await tx.alerts.unposted_claims(now=context.clock.now(), limit=context.batch)
        posted = []
        for alert_id in unposted:
            try:
                if await self.post(alert_id):
                    posted.append(alert_id)
            except PlatformError as exc:
                log.warning("claim of alert %s not posted yet: %s", alert_id, exc)
        return posted

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
            chat = self.context.platforms.get(message.platform)
            async with self.context.store.transaction() as tx:
                alerts = await tx.alerts.on_claim(message=message)
            if chat is None or not alerts:
                self.redraws.drawn(message)
                continue
            if alerts[0].claim_combined:
                card = await self._board_card(alerts)
            else:
                card = await self.card(alerts[0])
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
        people = self.context.people
        rows = [
            (system, await people.mention(holder, platform=platform), members)
            for (system, holder), members in groups.items()
        ]
        board = f"{alerts[0].claim.channel} {alerts[0].claim.id}" if alerts[0].claim else ""
        return render.storm_board(board=board, rows=rows, now=self.context.clock.now())

    async def card(self, alert: Alert) -> Card:
        """The current claim card of an alert."""
        context = self.context
        async with context.store.transaction() as tx:
            steps = await tx.steps.of_alert(alert_id=alert.id)
        system = context.system_of(alert)
        upcoming = sorted((s for s in steps if s.state == "pending"), key=lambda s: s.due_at)
        mentions = [
            (s, await context.people.mention(s.person, platform=alert.platform)) for s in upcoming
        ]
        return render.claim_card(
            alert=alert,
            system=system,
            holder=await context.people.mention(alert.holder, platform=alert.platform),
            role=role_of(system, alert.holder),
            upcoming=mentions,
            now=context.clock.now(),
        )

    async def refresh(self, alert: Alert) -> None:
        """Update the claim message in place to show the alert's current state."""
        if alert.claim is None:
            return
        if alert.claim_combined:
            self.redraws.mark(alert.claim)
            return
        chat = self.context.platforms.get(alert.platform)
        if chat is None:
            return
        try:
            await chat.update(message=alert.claim, card=await self.card(alert))
        except PlatformError as exc:
            log.warning("could not update claim of alert %s: %s", alert.id, exc)

    async def point_to(self, *, alert_id: int, channels: tuple[ChannelId, ...]) -> list[ChannelId]:
        """Tell further channels who holds an alert and where its claim lives; the channels
        reached. An alert has one claim (buttons, in-place updates, escalation thread), so an
        alert received over HTTP is claimed in its system's first channel and pointed to here."""
        context = self.context
        async with context.store.transaction() as tx:
            alert = await tx.alerts.get(alert_id=alert_id)
        if alert is None:
            return []
        system = context.system_of(alert)
        where = f"{alert.platform.capitalize()} channel {alert.channel}"
        reached: list[ChannelId] = []
        for channel in channels:
            chat = context.platforms.get(channel.platform)
            if chat is None:
                continue
            holder = await context.people.mention(alert.holder, platform=channel.platform)
            card = Card(
                title=f"{alert.system or 'unowned'}: {alert.title}",
                lines=(
                    ("Claimed for ", holder, f" ({role_of(system, alert.holder)})."),
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
