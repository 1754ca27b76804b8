"""The weekly scorecard over a busy fortnight: 10,000 alerts a week (quick: 1,000) over 50
systems on a temporary SQLite file, each with its claim entry, two in three acknowledged, one in
four escalated, one in twenty handed off. Measures reading the record (store.governance) and
computing every system's scorecard, beside the floor: one plain SELECT of the same alert rows.

    python -m bench.scorecard [--quick] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench.common import PG_URL, report, summary
from bot.scorecard import SystemInfo, scorecards
from store.database import make_engine, migrate
from store.governance import ACK, ALERT, AUDIT, STEP, GovernanceRepository

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
SYSTEMS = 50


def rows(per_week: int) -> dict[str, list[dict[str, Any]]]:
    """Two weeks of alerts with their acknowledgements, steps and claim entries."""
    rng = random.Random(7)
    alerts, acks, steps, audit = [], [], [], []
    seq = 0
    for i in range(1, 2 * per_week + 1):
        system = f"sys-{i % SYSTEMS}"
        opened = NOW - timedelta(seconds=rng.uniform(0, 14 * 86400))
        acked = rng.random() < 0.66
        escalated = rng.random() < 0.25
        resolved = opened + timedelta(hours=rng.uniform(0.1, 30)) if rng.random() < 0.8 else None
        alerts.append(
            {
                "id": i, "platform": "slack", "channel": f"C{i % 10}", "system": system,
                "fingerprint": f"fp{i % 700}", "open_key": None if resolved else f"{system}|{i}",
                "title": "t", "text": "t", "state": "resolved" if resolved else "open",
                "holder": "p1", "opened_at": opened, "repeats": i % 3,
                "resolved_by": "p1" if resolved else None, "resolved_at": resolved,
            }
        )  # fmt: skip
        if acked:
            acks.append({"alert_id": i, "person": "p1", "at": opened + timedelta(minutes=4)})
        steps.append(
            {
                "alert_id": i, "position": 0, "person": "p2", "label": "maintainer",
                "due_at": opened + timedelta(minutes=10),
                "state": "sent" if escalated else "cancelled",
                "sent_at": opened + timedelta(minutes=10) if escalated else None,
            }
        )  # fmt: skip
        entries = [("alert.claimed", opened, {"holder": "p1", "title": "t", "escalation": []})]
        if i % 20 == 0:
            entries.append(("alert.handed_off", opened, {"from": "p1", "to": "p3"}))
        for action, at, detail in entries:
            seq += 1
            audit.append(
                {
                    "seq": seq, "at": at, "actor": "bot", "action": action, "system": system,
                    "alert_id": i, "detail": json.dumps(detail), "prev_hash": "0" * 64,
                    "hash": "0" * 64,
                }
            )  # fmt: skip
    return {"alert": alerts, "ack": acks, "step": steps, "audit": audit}


async def run(per_week: int, url: str, rounds: int) -> None:
    engine = make_engine(url)
    await migrate(engine)
    data = rows(per_week)
    async with engine.begin() as conn:
        for table, key in ((ALERT, "alert"), (ACK, "ack"), (STEP, "step"), (AUDIT, "audit")):
            await conn.execute(insert(table), data[key])
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    systems = [SystemInfo(id=f"sys-{i}", name=f"S{i}", steward="p0") for i in range(SYSTEMS)]
    read, compute, floor, cpu_read, cpu_floor = [], [], [], [], []
    for _ in range(rounds):
        c0 = time.process_time()  # every thread of the process: aiosqlite reads in its own
        t0 = time.perf_counter()
        async with sessions() as session, session.begin():
            record = await GovernanceRepository(session).scorecard_record(
                since=NOW - timedelta(days=14), until=NOW
            )
        t1 = time.perf_counter()
        c1 = time.process_time()
        cards = scorecards(systems=systems, record=record, now=NOW)
        t2 = time.perf_counter()
        c2 = time.process_time()
        async with sessions() as session, session.begin():
            (await session.execute(select(ALERT))).all()
        t3 = time.perf_counter()
        cpu_read.append((c1 - c0) * 1000)
        cpu_floor.append((time.process_time() - c2) * 1000)
        read.append((t1 - t0) * 1000)
        compute.append((t2 - t1) * 1000)
        floor.append((t3 - t2) * 1000)
    await engine.dispose()
    assert sum(c.current.taken for c in cards) > 0
    r, c, f = summary(read), summary(compute), summary(floor)
    cr, cf = summary(cpu_read), summary(cpu_floor)
    report(
        f"scorecard-{'postgres' if url.startswith('postgresql') else 'sqlite'}",
        [
            ("alerts in the record", str(len(record.alerts))),
            ("read the record p50 / max (ms)", f"{r['p50']:.1f} / {r['max']:.1f}"),
            ("compute 50 scorecards p50 (ms)", f"{c['p50']:.1f}"),
            ("total p50 (ms)", f"{r['p50'] + c['p50']:.1f}"),
            ("floor: SELECT * FROM alert p50 (ms)", f"{f['p50']:.1f}"),
            ("CPU: read the record / floor p50 (ms)", f"{cr['p50']:.1f} / {cf['p50']:.1f}"),
        ],
        {
            "per_week": per_week,
            "read_ms": r,
            "compute_ms": c,
            "floor_ms": f,
            "cpu_read_ms": cr,
            "cpu_floor_ms": cf,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    per_week = 1000 if args.quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        if not args.postgres:
            asyncio.run(run(per_week, f"sqlite:///{Path(tmp) / 'bench.db'}", args.rounds))
            return
        schema = f"bench_{uuid.uuid4().hex[:8]}"

        async def in_schema() -> None:
            admin = make_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                url = f"{PG_URL}?options=-csearch_path%3D{schema}"
                await run(per_week, url, args.rounds)
            finally:
                async with admin.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                await admin.dispose()

        asyncio.run(in_schema())


if __name__ == "__main__":
    main()
