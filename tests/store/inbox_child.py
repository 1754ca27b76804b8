"""A process that records deliveries and works them off until it is killed, for the `kill -9`
test in test_inbox.py. Prints `ack ID` once `record` has returned (the moment a platform would
get its 2xx) and `done N` after each committed batch.

    python -m tests.store.inbox_child DATABASE_URL SCHEMA PREFIX
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.clock import SystemClock
from store.database import make_engine
from store.inbox import Inbox

LEASE = timedelta(seconds=2)


async def work(inbox: Inbox) -> None:
    """Work off batches: the processed rows and the done mark commit together."""
    while True:
        lease = await inbox.claim(limit=40, lease=LEASE)
        if lease is None:
            await inbox.wait_for_work(0.01)
            continue
        async with AsyncSession(inbox.engine) as session, session.begin():
            await inbox.complete(lease, session=session)
            await session.execute(
                text("INSERT INTO processed (delivery_id) VALUES (:d)"),
                [{"d": d.delivery_id} for d in lease.deliveries],
            )
            await asyncio.sleep(0.002)  # so a kill often lands inside this transaction
        sys.stdout.write(f"done {len(lease.deliveries)}\n")
        sys.stdout.flush()


async def send(inbox: Inbox, prefix: str, sender: int) -> None:
    """Record deliveries one after another, each acknowledged once recorded."""
    n = 0
    while True:
        delivery = f"{prefix}-{sender}-{n}"
        await inbox.record(platform="slack", delivery_id=delivery, kind="test", payload="{}")
        sys.stdout.write(f"ack {delivery}\n")
        sys.stdout.flush()
        n += 1
        if n % 3 == 0:  # a platform retry of an earlier delivery: must stay one
            await inbox.record(
                platform="slack",
                delivery_id=f"{prefix}-{sender}-{n - 2}",
                kind="test",
                payload="{}",
            )


async def main(url: str, schema: str, prefix: str) -> None:
    """Record and work until killed."""
    options = {"connect_args": {"options": f"-c search_path={schema}"}} if schema else {}
    engine = make_engine(url, **options)
    inbox = Inbox(engine, clock=SystemClock())
    await inbox.recover()
    tasks = [asyncio.create_task(send(inbox, prefix, i)) for i in range(20)]
    tasks.append(asyncio.create_task(work(inbox)))
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
