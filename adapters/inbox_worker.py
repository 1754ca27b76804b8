"""The inbox worker: works recorded deliveries off in batches, after the platforms have had
their answers (issue 12). Each pass leases a batch (store.inbox), turns every delivery into
alerts through its kind's decoder, and hands them all to the core's batch admission in one
transaction that also marks the deliveries done, so a delivery's alerts are stored exactly
once even across a crash or another replica's take-over. Claims, boards and direct messages
are published after the commit, in the background.

A batch that fails is retried one delivery at a time, so one bad delivery never costs the
others; a delivery that keeps failing is retried with back-off and given up (logged as an
error) after MAX_ATTEMPTS. Between batches the worker yields, so requests and the escalation
tick are never queued behind a backlog."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from bot.domain import AlertTaken, MessageRef, UserRef
from bot.events import AlertSeen
from bot.storage import Transaction
from store.inbox import Delivery, Inbox, Lease, LeaseLost
from store.transaction import SqlTransaction

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8

Decoder = Callable[[Delivery], Sequence[AlertSeen]]

SEEN = "alert_seen"  # a neutral AlertSeen, from a platform that translates at the door


async def record_seen(inbox: Inbox, seen: AlertSeen) -> None:
    """Record an alert a platform adapter already translated; returns once committed.
    Raises RecordFailed (answer an error so the platform delivers it again)."""
    await inbox.record(
        platform=seen.platform,
        delivery_id=seen.event_id,
        kind=SEEN,
        payload=json.dumps(dataclasses.asdict(seen)),
    )


def decode_seen(delivery: Delivery) -> list[AlertSeen]:
    """The alert `record_seen` recorded."""
    fields = json.loads(delivery.payload)
    message, author = fields.pop("message"), fields.pop("author")
    return [
        AlertSeen(
            **fields,
            message=MessageRef(**message) if message else None,
            author=UserRef(**author) if author else None,
        )
    ]


class TakeBatch(Protocol):
    """The core's batch admission: alerts stored in one transaction, `within` run inside it."""

    def __call__(
        self,
        events: Sequence[AlertSeen],
        *,
        within: Callable[[Transaction], Awaitable[None]] | None = None,
    ) -> Awaitable[list[AlertTaken]]: ...


class InboxWorker:
    """Leases batches from the inbox and takes their alerts."""

    def __init__(
        self,
        *,
        inbox: Inbox,
        decoders: Mapping[str, Decoder],
        take: TakeBatch,
        publish: Callable[[list[AlertTaken]], Awaitable[None]],
        spawn: Callable[[Awaitable[None], str], None],
        batch: int = 200,
        lease: timedelta = timedelta(seconds=60),
        poll: float = 0.2,
        gather: float = 0.05,
    ) -> None:
        """`poll`: seconds between looks for deliveries another replica recorded; `gather`:
        seconds to let deliveries accumulate after a lull, so a storm's first batches are
        batches (each costs a transaction) rather than one delivery each."""
        self.inbox = inbox
        self.decoders = decoders
        self.take = take
        self.publish = publish
        self.spawn = spawn
        self.batch = batch
        self.lease = lease
        self.poll = poll
        self.gather = gather

    async def run(self) -> None:
        """Work until cancelled."""
        while True:
            try:
                done = await self.work_once()
            except Exception:  # the database may be away for a while: keep trying
                log.exception("inbox worker pass failed; retrying in 1 s")
                await asyncio.sleep(1)
                continue
            if done >= self.batch:
                await asyncio.sleep(0)  # let waiting requests and the tick in first
            else:
                if not done:
                    await self.inbox.wait_for_work(self.poll)
                await asyncio.sleep(self.gather)

    async def work_once(self) -> int:
        """Lease and take one batch; how many deliveries it held (0: nothing pending)."""
        lease = await self.inbox.claim(limit=self.batch, lease=self.lease)
        if lease is None:
            return 0
        try:
            taken = await self._take(lease, lease.deliveries)
        except LeaseLost:
            log.warning("inbox batch taken over by another worker; its result was rolled back")
            return len(lease.deliveries)
        except Exception:
            log.exception("inbox batch of %d failed; taking it one by one", len(lease.deliveries))
            taken = []
            for delivery in lease.deliveries:
                taken += await self._take_alone(lease, delivery)
        if taken:
            self.spawn(self.publish(taken), "publish")
        return len(lease.deliveries)

    async def _take(self, lease: Lease, deliveries: Sequence[Delivery]) -> list[AlertTaken]:
        events = [seen for d in deliveries for seen in self._decode(d)]
        ids = [d.id for d in deliveries]

        async def mark_done(tx: Transaction) -> None:
            assert isinstance(tx, SqlTransaction)
            await self.inbox.complete(lease, ids=ids, session=tx.session)

        return await self.take(events, within=mark_done)

    async def _take_alone(self, lease: Lease, delivery: Delivery) -> list[AlertTaken]:
        try:
            return await self._take(lease, [delivery])
        except LeaseLost:
            return []
        except Exception:
            if delivery.attempts >= MAX_ATTEMPTS:
                log.exception(
                    "giving up on a delivery after %d attempts",
                    delivery.attempts,
                    extra={"platform": delivery.platform, "delivery": delivery.delivery_id},
                )
                await self.inbox.complete(lease, ids=[delivery.id])
            else:
                log.exception("delivery %s failed; retried later", delivery.delivery_id)
                delay = timedelta(seconds=min(300, 2**delivery.attempts))
                await self.inbox.release(lease, ids=[delivery.id], delay=delay)
            return []

    def _decode(self, delivery: Delivery) -> Sequence[AlertSeen]:
        """A delivery's alerts; a body that cannot be read never will be: none."""
        decoder = self.decoders.get(delivery.kind)
        if decoder is None:
            log.error("no decoder for inbox deliveries of kind %r; skipped", delivery.kind)
            return []
        try:
            return decoder(delivery)
        except Exception:
            log.exception(
                "could not read a recorded delivery; skipped",
                extra={"platform": delivery.platform, "delivery": delivery.delivery_id},
            )
            return []


def mount(app: web.Application, runtime: Runtime) -> None:
    """Run one worker over the runtime's inbox while the application runs. On SQLite (one
    process per file) the leases a killed predecessor held are freed at start."""
    inbox = runtime.inbox
    if inbox is None:
        return
    service = runtime.service
    runtime.decoders.setdefault(SEEN, decode_seen)
    worker = InboxWorker(
        inbox=inbox,
        decoders=runtime.decoders,
        take=service.take_alerts,
        publish=service.publish_many,
        spawn=lambda work, what: runtime.background.spawn(work, what=f"inbox {what}"),
    )
    running: list[asyncio.Task[None]] = []

    async def start(_: web.Application) -> None:
        freed = await inbox.recover()
        if freed:
            log.info("inbox: %d deliveries a stopped process held are taken up again", freed)
        running.append(asyncio.create_task(worker.run(), name="inbox-worker"))

    async def stop(_: web.Application) -> None:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await inbox.close()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
