"""Peak resident memory of `accountability-bot serve` with 10,000 systems in the registry and
100,000 stored alerts (quick: a tenth), after start-up, a few escalation ticks and health
checks. Reads VmHWM from /proc.

    python -m bench.memory [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.common import registry_yaml, report
from store.database import make_engine, migrate
from store.tables import AlertRow, ClaimRow, EscalationStepRow


async def seed(url: str, alerts: int, systems: int) -> None:
    """Bulk-insert alerts: a tenth open with a pending step, the rest resolved."""
    engine = make_engine(url)
    await migrate(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for lo in range(0, alerts, 5000):
            ids = range(lo + 1, min(alerts, lo + 5000) + 1)
            await conn.execute(
                insert(AlertRow.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": i,
                        "platform": "slack",
                        "channel": f"C{i % 10:08d}",
                        "system": f"sys-{i % systems}",
                        "fingerprint": f"f{i}",
                        "open_key": f"sys-{i % systems}|f{i}" if i % 10 == 0 else None,
                        "title": f"sys-{i % systems} latency high ({i})",
                        "text": f"[FIRING:1] sys-{i % systems} latency high, p99 2.{i % 10}s",
                        "state": "open" if i % 10 == 0 else "resolved",
                        "holder": "p0",
                        "opened_at": now - timedelta(days=1),
                        "repeats": 0,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(ClaimRow.__table__),  # type: ignore[attr-defined]
                [{"alert_id": i, "channel": "C0", "message_id": f"{i}.1"} for i in ids],
            )
            await conn.execute(
                insert(EscalationStepRow.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "alert_id": i,
                        "position": 1,
                        "person": "p1",
                        "label": "maintainer",
                        "due_at": now + timedelta(days=1),
                        "state": "pending",
                    }
                    for i in ids
                    if i % 10 == 0
                ],
            )
    await engine.dispose()


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    args = parser.parse_args()
    systems, alerts = (1_000, 10_000) if args.quick else (10_000, 100_000)
    tmp = Path(tempfile.mkdtemp())
    registry = tmp / "ownership.yaml"
    registry.write_text(registry_yaml(systems))
    url = f"sqlite:///{tmp}/bench.db"
    asyncio.run(seed(url, alerts, systems))
    port = 38000 + os.getpid() % 1000
    env = {
        **os.environ,
        "OWNERSHIP_FILE": str(registry),
        "DATABASE_URL": url,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "serve"], env=env, cwd=tmp
    )
    try:
        ready = None
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        ready = time.monotonic() - began
                        break
            except OSError:
                time.sleep(0.1)
        if ready is None:
            raise SystemExit("serve did not become healthy")
        for _ in range(50):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        time.sleep(5)  # a few escalation ticks over 10,000 open alerts
        peak = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    report(
        "memory",
        [
            ("systems in registry", f"{systems:,}"),
            ("stored alerts", f"{alerts:,}"),
            ("start-up to healthy", f"{ready:.2f}s"),
            ("peak RSS of serve", f"{peak:.1f} MB"),
        ],
        {"systems": systems, "alerts": alerts, "startup_s": ready, "peak_rss_mb": peak},
    )


if __name__ == "__main__":
    main()
