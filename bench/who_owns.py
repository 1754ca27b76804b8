"""`/who-owns` over HTTP: `accountability-bot serve` with 10,000 systems in the registry (quick:
1,000) on a temporary SQLite file, answering through a Slack stand-in. Sends signed slash-command
requests one after another (after a warm-up) and measures, per request, the time from send to
the HTTP answer (Slack's acknowledgement) and to the answer card reaching the response_url;
each request waits for the previous answer (`--concurrency` exchanges in flight).

    python -m bench.who_owns [--quick] [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.common import registry_yaml, report, summary
from bench.slack import TEAM, StandIn, signed_headers, start_server

CHANNEL = "C00000000"
USER = "U00000001"  # p1 in the generated registry


def form(standin: StandIn, key: str, system: str) -> bytes:
    """A /who-owns slash-command body as Slack posts it."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "team_domain": "bench",
            "channel_id": CHANNEL,
            "channel_name": "alerts-0",
            "user_id": USER,
            "user_name": "person1",
            "command": "/who-owns",
            "text": system,
            "api_app_id": "A0BENCH01",
            "response_url": standin.response_url(key),
            "trigger_id": f"{key}.42.abcd",
        }
    ).encode()


async def measure(
    session: aiohttp.ClientSession,
    url: str,
    standin: StandIn,
    keys: list[tuple[str, str]],
    concurrency: int,
) -> tuple[dict[str, float], dict[str, float], list[int]]:
    """Send the requests (`concurrency` at a time); send times and HTTP latencies by key."""
    sent: dict[str, float] = {}
    http: dict[str, float] = {}
    statuses: list[int] = []
    queue = iter(keys)

    async def worker() -> None:
        for key, system in queue:
            body = form(standin, key, system)
            headers = signed_headers(body, "application/x-www-form-urlencoded")
            began = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
            http[key] = time.perf_counter() - began
            sent[key] = began
            statuses.append(resp.status)
            # One exchange at a time per worker: the next request waits for this answer, so
            # the figures are a request's latency, not a backlog of answers.
            await standin.wait_response(key, 10)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent, http, statuses


async def answered(standin: StandIn, keys: list[str], within: float) -> None:
    """Wait until every key's response_url answer arrived (or the time is up)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(k not in standin.responses for k in keys):
        await asyncio.sleep(0.05)


async def run(systems: int, requests: int, warmup: int, concurrency: int) -> dict[str, Any]:
    """Start the stand-in and the server, warm up, measure."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-who-owns-"))
    standin = StandIn()
    await standin.start()
    server = await start_server(tmp=tmp, registry=registry_yaml(systems), standin=standin)
    rng = random.Random(7)
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency)
        ) as session:
            warm = [(f"w{i}", f"sys-{rng.randrange(systems)}") for i in range(warmup)]
            await measure(session, server.events_url, standin, warm, concurrency)
            await answered(standin, [k for k, _ in warm], 30)
            keys = [(f"m{i}", f"sys-{rng.randrange(systems)}") for i in range(requests)]
            began = time.perf_counter()
            sent, http, statuses = await measure(
                session, server.events_url, standin, keys, concurrency
            )
            elapsed = time.perf_counter() - began
            await answered(standin, [k for k, _ in keys], 30)
    finally:
        await server.stop()
        await standin.close()
    shutil.rmtree(tmp, ignore_errors=True)
    answers = {k: standin.responses[k] for k, _ in keys if k in standin.responses}
    to_answer = [answers[k][0] - sent[k] for k in answers]
    right = sum(1 for k, system in keys if k in answers and system.encode() in answers[k][1])
    return {
        "systems": systems,
        "requests": requests,
        "warmup": warmup,
        "concurrency": concurrency,
        "startup_s": server.started_s,
        "elapsed_s": elapsed,
        "http_200": sum(1 for s in statuses if s == 200),
        "answered": len(answers),
        "answered_naming_system": right,
        "answer_via": "response_url",
        "http_ms": summary([v * 1000 for v in http.values()]),
        "answer_ms": summary([v * 1000 for v in to_answer]),
        "chat_post_ephemeral": standin.count("chat.postEphemeral"),
    }


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--requests", type=int, help="measured requests")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight")
    args = parser.parse_args()
    systems, requests, warmup = (1_000, 200, 20) if args.quick else (10_000, 2_000, 200)
    r = asyncio.run(run(systems, args.requests or requests, warmup, args.concurrency))
    http, answer = r["http_ms"], r["answer_ms"]
    report(
        "who_owns",
        [
            ("systems in registry", f"{r['systems']:,}"),
            (
                "requests (after warm-up)",
                f"{r['requests']:,} (+{r['warmup']}), {r['concurrency']} in flight",
            ),
            ("start-up to healthy", f"{r['startup_s']:.2f}s"),
            ("HTTP 200", f"{r['http_200']:,} / {r['requests']:,}"),
            (
                "send -> HTTP answer p50 / p99 / max",
                f"{http['p50']:.2f} / {http['p99']:.2f} / {http['max']:.2f} ms",
            ),
            (
                "answers at response_url (naming the system)",
                f"{r['answered']:,} ({r['answered_naming_system']:,})",
            ),
            (
                "send -> answer at response_url p50 / p99 / max",
                f"{answer['p50']:.2f} / {answer['p99']:.2f} / {answer['max']:.2f} ms",
            ),
            ("throughput", f"{r['requests'] / r['elapsed_s']:.0f} requests/s"),
        ],
        {"quick": args.quick, **r},
    )


if __name__ == "__main__":
    main()
