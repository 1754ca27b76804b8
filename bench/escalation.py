"""Escalation under load: 10,000 open alerts whose steps fall due over 60 s (quick: 1,000 over
20 s), in real time with the default 1 s tick. Measures lateness of each sent step
(sent_at - due_at) and steps sent twice.
SQLite with one replica; PostgreSQL with three replicas (separate processes, separate pools).

    python -m bench.escalation [--quick] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from adapters.actions import ActionRunner
from adapters.clock import SystemClock
from adapters.fake import InMemoryPlatform
from bench.common import PG_URL, registry_yaml, report, summary
from bot.registry import parse_registry
from bot.service import AccountabilityService
from store.database import SqlStore, make_engine, migrate
from store.tables import AlertRow, ClaimRow, EscalationStepRow

SYSTEMS = 100
LEAD = 5.0  # seconds before the first step falls due, so every replica is up


def engine_for(url: str, schema: str | None) -> Any:
    if schema is None:
        return make_engine(url)
    return make_engine(url, connect_args={"options": f"-c search_path={schema}"}, pool_size=5)


async def seed(url: str, schema: str | None, alerts: int, start: datetime, spread: float) -> None:
    """Bulk-insert open alerts with posted claims and one pending step each."""
    if schema is not None:
        admin = make_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    engine = engine_for(url, schema)
    await migrate(engine)
    rng = random.Random(7)
    async with engine.begin() as conn:
        for lo in range(0, alerts, 2000):
            ids = range(lo + 1, min(alerts, lo + 2000) + 1)
            await conn.execute(
                insert(AlertRow.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": i,
                        "platform": "slack",
                        "channel": f"C{i % 10:08d}",
                        "system": f"sys-{i % SYSTEMS}",
                        "fingerprint": f"f{i}",
                        "open_key": f"sys-{i % SYSTEMS}|f{i}",
                        "title": f"sys-{i % SYSTEMS} alert {i}",
                        "text": f"sys-{i % SYSTEMS} alert {i}",
                        "state": "open",
                        "holder": "p0",
                        "held_since": start,
                        "opened_at": start,
                        "repeats": 0,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(ClaimRow.__table__),  # type: ignore[attr-defined]
                [
                    {"alert_id": i, "channel": f"C{i % 10:08d}", "message_id": f"{i}.0001"}
                    for i in ids
                ],
            )
            await conn.execute(
                insert(EscalationStepRow.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "alert_id": i,
                        "position": 1,
                        "person": f"p{(3 * (i % SYSTEMS) + 1) % SYSTEMS}",
                        "label": "maintainer",
                        "due_at": start + timedelta(seconds=LEAD + rng.uniform(0, spread)),
                        "state": "pending",
                    }
                    for i in ids
                ],
            )
    await engine.dispose()


async def replica(
    url: str, schema: str | None, deadline: float, last_due: float, tick: float
) -> tuple[list[int], list[int]]:
    """One replica: tick every `tick` seconds until the deadline; return the step ids it
    finished and the alert ids its direct messages covered."""
    registry = parse_registry(registry_yaml(SYSTEMS), source="bench.yaml")
    store = SqlStore(engine_for(url, schema))
    chat = InMemoryPlatform(name="slack")
    service = AccountabilityService(
        registry=registry,
        store=store,
        platforms={"slack": chat},
        clock=SystemClock(),
        stop_runner=ActionRunner(workdir=Path("."), environ={}),
    )
    sent: list[int] = []
    while time.time() < deadline:
        began = time.monotonic()
        report = await service.tick()
        sent += report.sent
        if not report.sent and time.time() > last_due:
            break
        await asyncio.sleep(max(0.0, tick - (time.monotonic() - began)))
    await store.close()
    covered = []  # alert ids each direct message told someone about (digests list several)
    for dm in chat.posts("direct"):
        listed = dict(dm.card.fields).get("Alerts")
        ids = listed.replace("#", "").split(", ") if listed else [dm.card.buttons[0].value]
        covered += [int(i) for i in ids]
    return sent, covered


def replica_process(
    url: str, schema: str | None, deadline: float, last_due: float, tick: float
) -> tuple[list[int], list[int]]:
    """Entry point of a replica process."""
    return asyncio.run(replica(url, schema, deadline, last_due, tick))


async def lateness(url: str, schema: str | None) -> tuple[list[float], int]:
    engine = engine_for(url, schema)
    s = EscalationStepRow.__table__.c  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(s.due_at, s.sent_at, s.state))).all()
    await engine.dispose()
    late = [(r.sent_at - r.due_at).total_seconds() for r in rows if r.state == "sent"]
    return late, sum(r.state == "pending" for r in rows)


def run(backend: str, alerts: int, replicas: int, tick: float, spread: float) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:8]}" if backend == "postgresql" else None
    tmp = tempfile.mkdtemp()
    url = PG_URL if backend == "postgresql" else f"sqlite:///{tmp}/bench.db"
    start = datetime.now(UTC)
    asyncio.run(seed(url, schema, alerts, start, spread))
    last_due = start.timestamp() + LEAD + spread + 1
    deadline = last_due + 30
    if replicas == 1:
        sent = [replica_process(url, schema, deadline, last_due, tick)]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(replicas) as pool:
            sent = pool.starmap(
                replica_process, [(url, schema, deadline, last_due, tick)] * replicas
            )
    late, pending = asyncio.run(lateness(url, schema))
    if schema is not None:

        async def drop() -> None:
            admin = make_engine(url)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()

        asyncio.run(drop())
    counts = Counter(alert for _, covered in sent for alert in covered)
    return {
        "backend": backend,
        "replicas": replicas,
        "alerts": alerts,
        "spread_s": spread,
        "sent": len(late),
        "not_sent": pending,
        "sent_twice": sum(1 for c in counts.values() if c > 1),
        "per_replica": [len(steps) for steps, _ in sent],
        "lateness_s": summary(late),
    }


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--tick", type=float, default=1.0)
    args = parser.parse_args()
    alerts, spread = (1_000, 20.0) if args.quick else (10_000, 60.0)
    results = []
    if args.backend in ("sqlite", "both"):
        results.append(run("sqlite", alerts, 1, args.tick, spread))
    if args.backend in ("postgresql", "both"):
        results.append(run("postgresql", alerts, 3, args.tick, spread))
    rows = []
    for r in results:
        tag = f"{r['backend']} x{r['replicas']}"
        lat = r["lateness_s"]
        rows += [
            (f"{tag}: steps sent / due", f"{r['sent']} / {r['alerts']}"),
            (
                f"{tag}: lateness p50 / p99 / max",
                f"{lat['p50']:.3f}s / {lat['p99']:.3f}s / {lat['max']:.3f}s",
            ),
            (f"{tag}: steps sent twice", str(r["sent_twice"])),
            (f"{tag}: sent per replica", ", ".join(map(str, r["per_replica"]))),
        ]
    report("escalation", rows, {"results": results, "quick": args.quick, "tick_s": args.tick})


if __name__ == "__main__":
    main()
