"""AccountabilityService: the facade the adapters call. It wires the core's feature modules
over one shared Context and forwards to them; it holds no rule of its own. Adapters hand it
neutral events; the scheduler calls `tick` and `stale_scan`. No module of bot/ imports it.

    admission  (bot.admission)  is it an alert, which system; store it    take_alert(s)
    claims     (bot.claims)     post / update / redraw claims and boards  publish(_many)
    escalation (bot.escalation) send due steps once                       tick
    router     (bot.router)     button actions and commands by name       click, command
    stale      (bot.stale)      the stale-ownership scan                  stale_scan
    governance (bot.governance) steward digests, the decision time box    governance,
                                and scorecards                            decision_timebox,
                                                                          scorecards
    incidents  (bot.incidents)  registry versions, incident reviews       remember_registry,
                                                                          review
    learning   (bot.learning)   the resolve form                          (clicks)
    follow_ups (bot.follow_ups) follow-up actions chased once             chase_follow_ups
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot import follow_ups, learning, stale
from bot import governance as cadence
from bot.admission import Admission
from bot.cards import Card, Reply
from bot.claims import Claims
from bot.clicks import Clicks
from bot.commands import Commands
from bot.console_link import ConsoleDesk, SignInLinks
from bot.context import Context
from bot.domain import AlertTaken
from bot.escalation import Escalation, TickReport
from bot.events import AlertSeen, ButtonClicked, CommandGiven
from bot.housekeeping import Housekeeping
from bot.incidents import Incidents
from bot.people import People
from bot.ports import ChatPlatform, Clock, NoObserver, Observer, StopRunner
from bot.registry import ChannelId, Registry, SystemView
from bot.review import Review
from bot.router import routes
from bot.scorecard import Scorecard
from bot.storage import Store, Transaction


class AccountabilityService:
    """Claims alerts, escalates, answers commands and clicks, and records evidence."""

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
        sign_in_links: SignInLinks | None = None,
        public_url: str = "http://localhost:3000",
    ) -> None:
        self.context = Context(
            registry=registry,
            store=store,
            platforms=platforms,
            clock=clock,
            people=People(registry=registry, platforms=platforms, clock=clock),
            observer=observer or NoObserver(),
            stop_runner=stop_runner,
            worker=worker or uuid.uuid4().hex[:12],
            lease=lease,
            batch=batch,
        )
        self.admission = Admission(self.context)
        self.claims = Claims(
            self.context,
            channel_pace=channel_pace,
            channel_burst=channel_burst,
            redraw_every=redraw_every,
        )
        self.escalation = Escalation(self.context, self.claims)
        self.housekeeping = Housekeeping(self.context)
        self.commands = Commands(self.context)
        self.incidents = Incidents(self.context)
        self.router = routes(
            self.context,
            incidents=self.incidents,
            clicks=Clicks(self.context, self.claims),
            commands=self.commands,
            console=ConsoleDesk(self.context, links=sign_in_links, public_url=public_url),
        )

    # ---- what adapters read ---------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        """The registry in force."""
        return self.context.registry

    @property
    def store(self) -> Store:
        """The store."""
        return self.context.store

    @property
    def clock(self) -> Clock:
        """The clock."""
        return self.context.clock

    @property
    def people(self) -> People:
        """Registry people <-> platform users."""
        return self.context.people

    @property
    def worker(self) -> str:
        """This replica's name on leases and job runs."""
        return self.context.worker

    @property
    def lease(self) -> timedelta:
        """How long a worker holds what it sends."""
        return self.context.lease

    def use_registry(self, registry: Registry) -> None:
        """Switch to a reloaded registry; open alerts keep the escalation maps copied onto them."""
        self.context.use_registry(registry)

    # ---- entry points -----------------------------------------------------------------------

    async def take_alert(self, event: AlertSeen) -> AlertTaken:
        """Admit and store an inbound message (no platform I/O): answer the platform after
        this returns, then `publish`. Raises when storage fails: do not acknowledge then."""
        return await self.admission.take(event)

    async def take_alerts(
        self,
        events: Sequence[AlertSeen],
        *,
        within: Callable[[Transaction], Awaitable[None]] | None = None,
    ) -> list[AlertTaken]:
        """`take_alert` for a batch (the inbox worker's): one transaction, multi-row
        statements, `within` run inside it first; then `publish_many`."""
        return await self.admission.take_many(events, within=within)

    async def publish_many(self, taken: Sequence[AlertTaken]) -> None:
        """Publish a stored batch: own claim messages within each channel's pace, the rest
        onto the channel's storm board together."""
        await self.claims.publish_many(taken)
        for one in taken:
            await self._offer_form(one)

    async def publish(self, taken: AlertTaken) -> None:
        """Post or update the claim of a stored alert (platform I/O, after the commit)."""
        await self.claims.publish(taken)
        await self._offer_form(taken)

    async def _offer_form(self, taken: AlertTaken) -> None:
        # A person's "resolved" message: the resolve form goes to them.
        if taken.outcome == "resolved" and taken.alert is not None:
            await learning.offer_by_message(self.context, taken.alert)

    async def point_to_claim(
        self, *, alert_id: int, channels: tuple[ChannelId, ...]
    ) -> list[ChannelId]:
        """Tell further channels who holds an alert and where its claim is; those reached."""
        return await self.claims.point_to(alert_id=alert_id, channels=channels)

    async def click(self, event: ButtonClicked) -> Reply | None:
        """Handle a button click; returns what to tell the clicker, if anything."""
        return await self.router.click(event)

    async def command(self, event: CommandGiven) -> Reply:
        """Answer a chat command."""
        return await self.router.command(event)

    async def who_owns(self, system: SystemView, *, platform: str) -> Card:
        """The who-owns card of one system (the CLI prints it)."""
        return await self.commands.who_owns_card(system, platform=platform)

    async def tick(self) -> TickReport:
        """The scheduler's tick: redraw changed claims, housekeeping, post claims whose lease
        lapsed unposted, then send every due escalation step once."""
        report = TickReport()
        report.redrawn = await self.claims.redraw()
        await self.housekeeping.run(self.context.clock.now())
        report.claims_posted = await self.claims.post_unposted()
        await self.escalation.send_due(report)
        return report

    async def stale_scan(self, *, period: str, dry_run: bool = False) -> stale.ScanReport:
        """The stale-ownership scan for `period` (once across replicas)."""
        return await stale.scan(self.context, period=period, dry_run=dry_run)

    async def governance(self, *, period: str, dry_run: bool = False) -> cadence.DigestReport:
        """The stewards' weekly digests for `period` (once across replicas)."""
        return await cadence.run(self.context, period=period, dry_run=dry_run)

    async def retry_digests(self) -> list[cadence.StewardDigest]:
        """Send again the digests a platform failure left undelivered; those delivered."""
        return await cadence.retry_unsent(self.context)

    async def decision_timebox(self) -> list[cadence.Escalated]:
        """Hand digests undecided past their time box to the higher authority, once."""
        return await cadence.escalate_undecided(self.context)

    async def scorecards(
        self, *, systems: Sequence[SystemView], now: datetime, length: timedelta
    ) -> list[Scorecard]:
        """The scorecards of `systems` for the period of `length` ending `now`."""
        return await cadence.scorecards_at(self.context, systems=systems, now=now, length=length)
    async def remember_registry(self, registry: Registry | None = None) -> bool:
        """Keep a registry (default: the one in force) on record; False if kept before."""
        return await self.incidents.remember_registry(registry)

    async def review(self, *, alert_id: int) -> Review | None:
        """The incident review of one alert (the CLI prints it); None when unknown."""
        return await self.incidents.review(alert_id=alert_id)

    async def chase_follow_ups(self) -> tuple[int, int]:
        """Remind owners of due follow-ups, then their stewards, once across replicas."""
        return await follow_ups.chase(self.context)

    async def deliver(self, *, person: str, card: Card, prefer: Sequence[str] = ()) -> str | None:
        """Send a card to a person directly; the platform used, or None when none could."""
        return await self.context.people.deliver(person=person, card=card, prefer=prefer)
