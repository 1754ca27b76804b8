"""Shared pieces of the benchmarks: a generated registry, bulk-seeded stores, percentiles and
result output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")


def registry_yaml(
    systems: int, *, channels: int = 10, steps: Sequence[str] = ("10m", "30m")
) -> str:
    """A registry with `systems` systems spread over `channels` Slack channels."""
    lines = ["version: 1", "people:"]
    people = max(4, min(systems, 2000))
    for i in range(people):
        lines.append(f"  p{i}: {{name: Person {i}, email: p{i}@example.com, slack: U{i:08d}}}")
    lines += ["admins: [p0]", "channels:"]
    for c in range(channels):
        lines.append(f"  - {{slack: C{c:08d}, fallback: p0}}")
    lines.append("systems:")
    for i in range(systems):
        op, mt, st = (3 * i) % people, (3 * i + 1) % people, (3 * i + 2) % people
        lines += [
            f"  sys-{i}:",
            f"    operator: p{op}",
            f"    maintainer: p{mt}",
            f"    steward: p{st}",
            f"    match: ['\\bsys-{i}\\b']",
            f"    channels: [C{i % channels:08d}]",
            "    escalation:",
        ]
        lines += [
            f"      - {{notify: {role}, after: {after}}}"
            for role, after in zip(("maintainer", "steward"), steps, strict=False)
        ]
    return "\n".join(lines) + "\n"


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / max / mean of a sample."""
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else 0.0,
        "mean": statistics.fmean(values) if values else 0.0,
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def report(name: str, rows: list[tuple[str, str]], data: dict[str, Any]) -> None:
    """Print a two-column table and write the figures as JSON."""
    width = max(len(k) for k, _ in rows)
    print(f"\n{name}")
    print("-" * (width + 20))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2))
    print(f"(written to {out.relative_to(RESULTS.parent.parent)})")
