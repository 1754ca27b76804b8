"""Console pages at 10,000 systems (quick: 1,000): the console over a temporary SQLite file
holding 20,000 alerts (a tenth open, each with its escalation steps), confirmations for half
the roles, 20,000 hash-chained evidence entries and some stopped systems. Each page (and each
filter) is asked `--requests` times one after another by a signed-in client on loopback,
after one warm-up request per page (the first request fills the per-registry caches: search
index, published map, the chain walk).

The floor is measured in the same run and the same process: a bare aiohttp response, and the
console's base template rendered with nothing in it, behind the same session check.

    python -m bench.console [--quick] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import insert

from adapters.fake import ManualClock
from adapters.web.auth import Viewer
from adapters.web.console import Console, ConsoleConfig
from bench.common import registry_yaml, report, summary
from bot.console_link import issue_link
from bot.domain import AuditDraft
from bot.registry import load_registry
from store.console import ConsoleStore
from store.database import SqlStore, make_engine, migrate
from store.signins import SignIns
from store.tables import (
    AlertRow,
    ClaimRow,
    ConfirmationRow,
    EscalationStepRow,
    SystemStateRow,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _rows(model: Any) -> Any:
    return insert(model.__table__)


async def seed(store: SqlStore, systems: int, alerts: int, evidence: int) -> None:
    """Bulk rows: alerts (a tenth open) with steps, confirmations, stops, evidence."""
    engine = store.engine
    async with engine.begin() as conn:
        for lo in range(0, alerts, 5000):
            ids = range(lo + 1, min(alerts, lo + 5000) + 1)
            await conn.execute(
                _rows(AlertRow),
                [
                    {
                        "id": i,
                        "platform": "slack",
                        "channel": f"C{i % 10:08d}",
                        "system": f"sys-{i % systems}",
                        "fingerprint": f"f{i}",
                        "open_key": f"sys-{i % systems}|f{i}" if i % 10 == 0 else None,
                        "title": f"sys-{i % systems} latency high ({i})",
                        "text": f"[FIRING:1] sys-{i % systems} latency high",
                        "state": "open" if i % 10 == 0 else "resolved",
                        "holder": f"p{(3 * (i % systems)) % min(systems, 2000)}",
                        "opened_at": NOW - timedelta(minutes=i % 600),
                        "resolved_at": None if i % 10 == 0 else NOW,
                        "resolved_by": None if i % 10 == 0 else "p1",
                        "repeats": i % 3,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                _rows(ClaimRow),
                [{"alert_id": i, "channel": "C0", "message_id": f"{i}.1"} for i in ids],
            )
            await conn.execute(
                _rows(EscalationStepRow),
                [
                    {
                        "alert_id": i,
                        "position": pos,
                        "person": f"p{pos}",
                        "label": label,
                        "due_at": NOW + timedelta(minutes=10 * pos),
                        "state": "sent" if pos == 1 else "pending",
                        "sent_at": NOW if pos == 1 else None,
                    }
                    for i in ids
                    if i % 10 == 0
                    for pos, label in ((1, "maintainer"), (2, "steward"))
                ],
            )
        people = min(systems, 2000)
        await conn.execute(
            _rows(ConfirmationRow),
            [
                {
                    "system": f"sys-{s}",
                    "role": role,
                    "person": f"p{(3 * s + k) % people}",
                    "at": NOW - timedelta(days=s % 120),
                }
                for s in range(0, systems, 2)
                for k, role in enumerate(("operator", "maintainer", "steward"))
            ],
        )
        await conn.execute(
            _rows(SystemStateRow),
            [
                {"system": f"sys-{s}", "stopped": True, "changed_at": NOW, "changed_by": "p2"}
                for s in range(0, systems, 97)
            ],
        )
    for lo in range(0, evidence, 2000):
        async with store.transaction() as tx:
            await tx.evidence.append_many(
                entries=[
                    AuditDraft(
                        NOW,
                        f"p{i % 50}",
                        ("alert.claimed", "alert.acknowledged", "alert.resolved")[i % 3],
                        f"sys-{i % systems}",
                        i % alerts + 1,
                        {"holder": f"p{i % 50}", "n": i},
                    )
                    for i in range(lo, min(evidence, lo + 2000))
                ]
            )


PAGES = [
    ("systems", "/"),
    ("systems page 100", "/?page=100"),
    ("systems search", "/?q=sys-42"),
    ("systems person", "/?person=p7"),
    ("systems stale", "/?flag=stale"),
    ("systems open", "/?flag=open&page=3"),
    ("one system", "/systems/sys-42"),
    ("open alerts", "/open-alerts"),
    ("open alerts page 20", "/open-alerts?page=20"),
    ("open alerts holder", "/open-alerts?holder=p3&state=open"),
    ("evidence", "/evidence"),
    ("evidence filtered", "/evidence?action=alert.resolved&system=sys-7"),
    ("registry", "/registry"),
    ("escalation map", "/map"),
]
FLOORS = [("floor: bare aiohttp response", "/floor"), ("floor: empty template", "/floor-page")]


async def measure(session: aiohttp.ClientSession, url: str, n: int) -> tuple[list[float], int]:
    """`n` sequential GETs after one warm-up; latencies in ms and the first warm-up's."""
    began = time.perf_counter()
    async with session.get(url) as r:
        await r.read()
        assert r.status == 200, (url, r.status)
    warm = (time.perf_counter() - began) * 1000
    out = []
    for _ in range(n):
        began = time.perf_counter()
        async with session.get(url) as r:
            body = await r.read()
        out.append((time.perf_counter() - began) * 1000)
        assert r.status == 200 and body
    return out, round(warm)


async def run(systems: int, alerts: int, evidence: int, n: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    try:
        path = tmp / "ownership.yaml"
        path.write_text(registry_yaml(systems))
        registry = load_registry(path)
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        await migrate(engine)
        store = SqlStore(engine)
        began = time.perf_counter()
        await seed(store, systems, alerts, evidence)
        print(f"seeded in {time.perf_counter() - began:.1f}s")
        clock = ManualClock(NOW + timedelta(minutes=5))
        console = Console(
            registry=lambda: registry,
            registry_path=path,
            store=ConsoleStore(engine),
            signins=SignIns(engine),
            clock=clock,
            config=ConsoleConfig(public_url="http://127.0.0.1", open_mode=False),
        )

        async def bare(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def empty(_: web.Request, viewer: Viewer) -> web.Response:
            return console.pages.html("base.html", viewer=viewer)

        app = web.Application()
        app.add_routes(console.routes())
        app.router.add_get("/floor", bare)
        app.router.add_get("/floor-page", console.gate.guard(empty))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        link = await issue_link(
            links=console.signins, person="p1", now=clock.now(), public_url=base
        )
        results: dict[str, Any] = {}
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.post(link.url) as r:
                assert r.status == 200 and "Signed in as" in await r.text()
            for name, url in FLOORS + PAGES:
                values, warm = await measure(session, base + url, n)
                results[name] = {**summary(values), "warm_up_ms": warm}
        await runner.cleanup()
        await store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    worst = max(results[name]["p99"] for name, _ in PAGES)
    rows = [("systems / alerts / evidence", f"{systems} / {alerts} / {evidence}")]
    rows += [
        (
            name,
            f"p50 {results[name]['p50']:6.1f} ms   p99 {results[name]['p99']:6.1f} ms"
            f"   (first {results[name]['warm_up_ms']} ms)",
        )
        for name, _ in FLOORS + PAGES
    ]
    rows.append(("worst page p99 (target <= 200 ms)", f"{worst:.1f} ms"))
    report(
        "console",
        rows,
        {
            "systems": systems,
            "alerts": alerts,
            "evidence": evidence,
            "requests": n,
            "pages": results,
        },
    )


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    args = parser.parse_args()
    systems, alerts, evidence = (1_000, 2_000, 2_000) if args.quick else (10_000, 20_000, 20_000)
    asyncio.run(run(systems, alerts, evidence, args.requests))


if __name__ == "__main__":
    main()
