"""The inbox's group commit (store/inbox.py): deliveries recorded per second and the latency of
`record` (call to durable commit) for a burst of 5,000 Slack event bodies from concurrent
callers and for a steady 1,000 a second, beside the floor measured in the same run: bare
multi-row INSERTs of the same rows, in groups of the same size, on a raw driver connection with
the same durability settings and nothing else.

    python -m bench.inbox [--quick] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from adapters.clock import SystemClock
from bench.common import PG_URL, report, summary
from bench.storm import event_body
from store.database import make_engine, migrate
from store.inbox import Inbox

COLUMNS = "(platform, delivery_id, kind, payload, received_at, attempts)"


def payloads(n: int, prefix: str) -> list[tuple[str, str]]:
    """(delivery id, body) of n distinct Slack alert events."""
    return [(f"{prefix}{i:08d}", event_body(i, 1000)[0].decode()) for i in range(n)]


async def burst(inbox: Inbox, rows: list[tuple[str, str]]) -> tuple[float, list[float]]:
    """Every delivery at once: seconds for all, and each call's latency."""
    latencies: list[float] = []

    async def one(delivery: str, body: str) -> None:
        began = time.perf_counter()
        await inbox.record(platform="slack", delivery_id=delivery, kind="slack_event", payload=body)
        latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one(d, b) for d, b in rows))
    return time.perf_counter() - began, latencies


async def paced(
    inbox: Inbox, rows: list[tuple[str, str]], rate: float
) -> tuple[float, list[float]]:
    """Deliveries arriving at `rate` a second, each from its own caller."""
    latencies: list[float] = []

    async def one(delivery: str, body: str) -> None:
        began = time.perf_counter()
        await inbox.record(platform="slack", delivery_id=delivery, kind="slack_event", payload=body)
        latencies.append(time.perf_counter() - began)

    tasks = []
    began = time.perf_counter()
    for i, (delivery, body) in enumerate(rows):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(delivery, body)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - began, latencies


def sqlite_floor(path: Path, rows: list[tuple[str, str]], group: int) -> tuple[float, list[float]]:
    """The same rows as bare multi-row INSERTs of `group` rows, one transaction each."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000")
    commits: list[float] = []
    began = time.perf_counter()
    for start in range(0, len(rows), group):
        chunk = rows[start : start + group]
        t0 = time.perf_counter()
        values = ",".join(["(?,?,?,?,?,?)"] * len(chunk))
        params: list[Any] = []
        for delivery, body in chunk:
            params += ["slack", delivery, "slack_event", body, stamp, 0]
        conn.execute("BEGIN")
        conn.execute(
            f"INSERT INTO inbox_delivery {COLUMNS} VALUES {values} "
            "ON CONFLICT (platform, delivery_id) DO NOTHING RETURNING platform, delivery_id",
            params,
        ).fetchall()
        conn.execute("COMMIT")
        commits.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - began
    conn.close()
    return elapsed, commits


def postgres_floor(
    schema: str, rows: list[tuple[str, str]], group: int
) -> tuple[float, list[float]]:
    """The same rows as bare multi-row INSERTs on a raw psycopg connection."""
    commits: list[float] = []
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with psycopg.connect(PG_URL, options=f"-c search_path={schema}") as conn:
        began = time.perf_counter()
        for start in range(0, len(rows), group):
            chunk = rows[start : start + group]
            t0 = time.perf_counter()
            values = ",".join(["(%s,%s,%s,%s,%s,%s)"] * len(chunk))
            params: list[Any] = []
            for delivery, body in chunk:
                params += ["slack", delivery, "slack_event", body, stamp, 0]
            conn.execute(
                f"INSERT INTO inbox_delivery {COLUMNS} VALUES {values} "  # type: ignore[arg-type]
                "ON CONFLICT (platform, delivery_id) DO NOTHING RETURNING platform, delivery_id",
                params,
            ).fetchall()
            conn.commit()
            commits.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - began
    return elapsed, commits


def ms(values: list[float]) -> str:
    """p50 / p99 / max in milliseconds."""
    s = summary(values)
    return f"p50 {s['p50'] * 1e3:.2f} ms, p99 {s['p99'] * 1e3:.2f} ms, max {s['max'] * 1e3:.2f} ms"


async def measure(url: str, options: dict[str, Any], n: int, rate: float) -> dict[str, Any]:
    """Burst and paced runs through the inbox; CPU per record; groups formed."""
    engine = make_engine(url, **options)
    await migrate(engine)
    inbox = Inbox(engine, clock=SystemClock())
    await inbox.record(platform="slack", delivery_id="warm-up", kind="t", payload="{}")
    results: dict[str, Any] = {}
    for name in ("burst", "paced"):
        rows = payloads(n, f"Ev{name}")
        before_tx = inbox.transactions
        cpu = time.process_time()
        if name == "burst":
            elapsed, latencies = await burst(inbox, rows)
        else:
            elapsed, latencies = await paced(inbox, rows, rate)
        cpu = time.process_time() - cpu
        groups = inbox.transactions - before_tx
        results[name] = {
            "elapsed_s": elapsed,
            "records_per_s": n / elapsed,
            "latency": summary(latencies),
            "groups": groups,
            "mean_group": n / groups,
            "cpu_us_per_record": cpu / n * 1e6,
            "_latencies": latencies,
        }
    await inbox.close()
    await engine.dispose()
    return results


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    n = 500 if args.quick else 5000
    rate = 1000.0
    workdir = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    try:
        if args.postgres:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            floor_schema = schema + "_floor"
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                admin.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
                admin.execute(f'CREATE SCHEMA "{floor_schema}"')  # type: ignore[arg-type]
            options = {"connect_args": {"options": f"-c search_path={schema}"}}
            floor_options = {"connect_args": {"options": f"-c search_path={floor_schema}"}}
            url, floor_url, backend = PG_URL, PG_URL, "PostgreSQL"
        else:
            url = f"sqlite:///{workdir / 'inbox.db'}"
            floor_url = f"sqlite:///{workdir / 'floor.db'}"
            options, floor_options, backend = {}, {}, "SQLite (WAL, synchronous=FULL)"
        results = asyncio.run(measure(url, options, n, rate))

        async def prepare_floor() -> None:
            engine = make_engine(floor_url, **floor_options)
            await migrate(engine)
            await engine.dispose()

        asyncio.run(prepare_floor())
        table: list[tuple[str, str]] = [("backend", backend)]
        data: dict[str, Any] = {"backend": backend, "deliveries": n}
        for name, label in (("burst", f"burst of {n} at once"), ("paced", f"{n} at {rate:.0f}/s")):
            r = results.pop(name)
            latencies = r.pop("_latencies")
            group = max(1, round(r["mean_group"]))
            rows = payloads(n, f"Floor{name}")
            if args.postgres:
                floor_elapsed, commits = postgres_floor(floor_schema, rows, group)
            else:
                floor_elapsed, commits = sqlite_floor(workdir / "floor.db", rows, group)
            floor_rate = n / floor_elapsed
            r["floor"] = {
                "records_per_s": floor_rate,
                "commit": summary(commits),
                "group": group,
            }
            data[name] = r
            table += [
                (f"{label}: records/s", f"{r['records_per_s']:,.0f}"),
                (
                    "  floor (bare multi-row INSERTs, same groups)",
                    f"{floor_rate:,.0f}/s, ratio {floor_rate / r['records_per_s']:.2f}x",
                ),
                ("  record() call to commit", ms(latencies)),
                ("  floor: one group's INSERT + COMMIT", ms(commits)),
                ("  groups (transactions)", f"{r['groups']} (mean {r['mean_group']:.1f} rows)"),
                ("  process CPU per record", f"{r['cpu_us_per_record']:.0f} µs"),
            ]
        report("inbox-postgres" if args.postgres else "inbox", table, data)
        if args.postgres:
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                for name in (schema, floor_schema):
                    admin.execute(f'DROP SCHEMA "{name}" CASCADE')  # type: ignore[arg-type]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
