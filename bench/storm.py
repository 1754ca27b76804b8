"""An alert storm: 5,000 alert messages in 10 s across 10 channels and 1,000 systems (quick: 500
over 100 systems), sent as signed Slack Events API callbacks to `accountability-bot serve`
(temporary SQLite file), with the Slack stand-in allowing 1 chat.postMessage per second per
channel (burst 3, then 429 with Retry-After).

Measures the time from event sent to Slack's HTTP answer (given once the delivery is durably
recorded in the inbox), to the stored claim (the alert row with its holder, as a separate
process polling the database every 5 ms first sees it; the inbox worker stores it after the
answer) and to the claim being on a Slack message (its own, or the channel's storm board,
which is redrawn at most every 2 s); alerts lost; duplicates; messages posted and updated per
channel; 429s; process CPU per alert beside the floor (signature check + JSON parse + one
multi-row insert, in a bare loop in this process).
Runs until every claim is on a message and every storm board shows all of its alerts.

    python -m bench.storm [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import sqlite3
import string
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import registry_yaml, report, summary
from bench.slack import (
    SIGNING_SECRET,
    TEAM,
    Server,
    StandIn,
    board_total,
    signed_headers,
    start_server,
)

CHANNELS = 10
SLACK_TIMEOUT = 3.0  # Slack gives up on an answer after 3 s and delivers the event again


def channel_of(system: int) -> str:
    """The channel the generated registry lists a system in."""
    return f"C{system % CHANNELS:08d}"


def alert_name(i: int) -> str:
    """A distinct alert name made of letters (fingerprints ignore numbers)."""
    letters = ""
    while True:
        i, r = divmod(i, 26)
        letters += string.ascii_lowercase[r]
        if i == 0:
            return "Alert" + letters.capitalize()


def event_body(i: int, systems: int) -> tuple[bytes, str, str]:
    """Alert i as Slack delivers an Alertmanager post: body, channel, message ts."""
    system = i % systems
    channel = channel_of(system)
    ts = f"{1_800_000_000 + i}.000100"
    title = f"[FIRING:1] {alert_name(i)} (sys-{system} critical)"
    event = {
        "type": "message",
        "subtype": "bot_message",
        "text": "",
        "username": "Alertmanager",
        "bot_id": "B0ALERTMGR",
        "attachments": [
            {
                "id": 1,
                "color": "a30200",
                "fallback": title,
                "title": title,
                "text": f"*Alert:* latency high on sys-{system}\n*Severity:* `critical`",
            }
        ],
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }
    envelope = {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0BENCH01",
        "event": event,
        "type": "event_callback",
        "event_id": f"EvStorm{i:08d}",
        "event_time": 1_800_000_000 + i,
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT0001", "is_bot": True}],
    }
    return json.dumps(envelope).encode(), channel, ts


# ---- the database watcher (its own process, so its timing does not share the sender's GIL) --


def watch(db: str, stop: Event, out: Connection, interval: float) -> None:
    """Record when each alert row (by source message ts) and its claim message first appear."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    stored: dict[str, float] = {}
    on_message: dict[str, float] = {}
    last_id = 0
    ids: dict[int, str] = {}
    polls = 0
    while not stop.is_set():
        at = time.time()
        rows = conn.execute(
            "SELECT id, source_id FROM alert WHERE id > ? ORDER BY id", (last_id,)
        ).fetchall()
        for alert_id, source in rows:
            ids[alert_id] = source
            stored.setdefault(source, at)
            last_id = alert_id
        if polls % 5 == 0:  # claims become visible out of order: a full (index-only) read
            for (alert_id,) in conn.execute(
                "SELECT alert_id FROM claim WHERE message_id IS NOT NULL"
            ):
                source = ids.get(alert_id)
                if source is not None:
                    on_message.setdefault(source, at)
        conn.rollback()
        polls += 1
        time.sleep(interval)
    out.send((stored, on_message, polls))
    conn.close()


# ---- sending ---------------------------------------------------------------------------------


class Sender:
    """Delivers events as Slack does: signed, and delivered again after an error answer."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.sent: dict[str, float] = {}  # message ts -> wall time of first send
        self.http: dict[str, float] = {}  # message ts -> seconds to the 200
        self.statuses: Counter[int] = Counter()
        self.redeliveries = 0
        self.failed: list[str] = []

    async def send(self, body: bytes, ts: str) -> None:
        """One event, with up to three redeliveries after an error (as Slack does)."""
        self.sent[ts] = time.time()
        began = time.perf_counter()
        for attempt in range(4):
            headers = signed_headers(body, "application/json")
            if attempt:
                headers.update(
                    {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"}
                )
                self.redeliveries += 1
            try:
                async with self.session.post(self.url, data=body, headers=headers) as resp:
                    await resp.read()
                    self.statuses[resp.status] += 1
                    if resp.status == 200:
                        self.http[ts] = time.perf_counter() - began
                        return
            except (aiohttp.ClientError, TimeoutError):
                self.statuses[0] += 1
            await asyncio.sleep(1)
        self.failed.append(ts)


async def storm(sender: Sender, bodies: list[tuple[bytes, str, str]], seconds: float) -> float:
    """Send every event at its scheduled moment over `seconds`; the time sending took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i, (body, _, ts) in enumerate(bodies):
        due = start + i * seconds / len(bodies)
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(sender.send(body, ts)))
    sending = loop.time() - start
    await asyncio.gather(*tasks)
    return sending


def floor_cpu(bodies: list[tuple[bytes, str, str]], tmp: Path) -> float:
    """CPU seconds per alert of the floor: slack_sdk's signature check, a JSON parse and one
    insert (committed 100 at a time, WAL) per event, in a bare loop in this process."""
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(SIGNING_SECRET)
    conn = sqlite3.connect(tmp / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE delivery (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE, body TEXT)")
    signed = [(body, signed_headers(body, "application/json")) for body, _, _ in bodies]
    began = time.process_time()
    for start in range(0, len(signed), 100):
        conn.execute("BEGIN")
        for body, headers in signed[start : start + 100]:
            assert verifier.is_valid(
                body=body,
                timestamp=headers["X-Slack-Request-Timestamp"],
                signature=headers["X-Slack-Signature"],
            )
            event = json.loads(body)
            conn.execute(
                "INSERT INTO delivery (event_id, body) VALUES (?, ?)",
                (event["event_id"], body.decode()),
            )
        conn.execute("COMMIT")
    spent = time.process_time() - began
    conn.close()
    return spent / len(bodies)


# ---- settling and counting -------------------------------------------------------------------


def claims(db: Path) -> list[tuple[str, str, str | None, int]]:
    """(source ts, channel, claim message ts, combined) of every stored alert."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(
            "SELECT a.source_id, c.channel, c.message_id, c.combined"
            " FROM alert a LEFT JOIN claim c ON c.alert_id = a.id"
        ).fetchall()


def unsettled(db: Path, standin: StandIn) -> tuple[int, int]:
    """Claims not yet on a message, and boards not yet showing all of their alerts."""
    rows = claims(db)
    waiting = sum(1 for _, _, message, _ in rows if message is None)
    on_board = Counter(
        (channel, message) for _, channel, message, combined in rows if combined and message
    )
    stale = 0
    for (channel, message), n in on_board.items():
        post = standin.posts.get((channel, message))
        if post is None or board_total(post) != n:
            stale += 1
    return waiting, stale


async def settle(db: Path, standin: StandIn, within: float) -> float | None:
    """Wait until every claim is on a message and every board is fully redrawn."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        if unsettled(db, standin) == (0, 0):
            return time.monotonic() - began
        await asyncio.sleep(0.25)
    return None


async def rate_limited_metric(session: aiohttp.ClientSession, server: Server) -> float | None:
    """The bot's own count of 429s (accountability_rate_limited_total{platform="slack"})."""
    async with session.get(f"{server.url}/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith('accountability_rate_limited_total{platform="slack"}'):
            return float(line.split()[-1])
    return None


async def run(alerts: int, systems: int, seconds: float) -> dict[str, Any]:
    """Start the stand-in, the server and the watcher; storm; settle; count."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-storm-"))
    db = tmp / "bench.db"
    standin = StandIn(rate=1.0, burst=3)
    await standin.start()
    server = await start_server(tmp=tmp, registry=registry_yaml(systems), standin=standin)
    bodies = [event_body(i, systems) for i in range(alerts)]
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    theirs, ours = ctx.Pipe()
    watcher = ctx.Process(target=watch, args=(str(db), stop, ours, 0.005))
    watcher.start()
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000),
            # No 3 s cut-off as Slack has: a slow answer is counted, not abandoned, so every
            # event is delivered exactly once unless the bot answers an error.
            timeout=aiohttp.ClientTimeout(total=600),
        ) as session:
            sender = Sender(session, server.events_url)
            cpu = server.cpu_seconds()
            began = time.monotonic()
            sending = await storm(sender, bodies, seconds)
            answered = time.monotonic() - began
            cpu_answered = server.cpu_seconds() - cpu
            settled = await settle(db, standin, within=120)
            cpu = server.cpu_seconds() - cpu
            await asyncio.sleep(2.5)  # a redraw pass after settling shows nothing changes
            bot_429 = await rate_limited_metric(session, server)
    finally:
        stop.set()
        await server.stop()
        await standin.close()
    if not await asyncio.to_thread(theirs.poll, 30):
        watcher.kill()
        raise SystemExit(f"the database watcher died (exit code {watcher.exitcode})")
    stored, on_message, polls = theirs.recv()
    watcher.join()

    floor = floor_cpu(bodies, tmp)
    rows = claims(db)
    by_event = Counter(source for source, *_ in rows)
    sent_ts = {ts for _, _, ts in bodies}
    per_channel_sent = Counter(channel for _, channel, _ in bodies)
    seen = {ts: stored[ts] - sender.sent[ts] for ts in sent_ts if ts in stored}
    # The bot answers once the delivery is recorded and stores the alert after: the
    # watcher's first sight is the stored claim.
    to_stored = list(seen.values())
    to_message = [on_message[ts] - sender.sent[ts] for ts in sent_ts if ts in on_message]
    # A single claim is a thread reply under the alert's message; a board is top-level.
    single_posts = Counter(p.thread_ts for p in standin.posts.values() if p.thread_ts)
    boards = [p for p in standin.posts.values() if board_total(p) is not None]
    combined = {source for source, _, _, c in rows if c}
    shown = sum(1 for ts in single_posts if ts in sent_ts) + sum(
        board_total(b) or 0 for b in boards
    )
    channels = sorted(per_channel_sent)
    per_channel = {
        c: {
            "alerts": per_channel_sent[c],
            "posted": standin.count("chat.postMessage", c),
            "updated": standin.count("chat.update", c),
            "boards": sum(1 for b in boards if b.channel == c),
            "refused_429": standin.limited[c],
        }
        for c in channels
    }
    log = server.log.read_text(errors="replace")
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "alerts_sent": alerts,
        "systems": systems,
        "channels": CHANNELS,
        "storm_s": seconds,
        "sending_took_s": sending,
        "all_answered_s": answered,
        "settled_after_answers_s": settled,
        "server_cpu_while_answering_s": cpu_answered,
        "server_cpu_until_settled_s": cpu,
        "cpu_ms_per_alert": cpu / alerts * 1000,
        "floor_cpu_ms_per_alert": floor * 1000,
        "http_statuses": {str(k): v for k, v in sender.statuses.items()},
        "redeliveries": sender.redeliveries,
        "undelivered": len(sender.failed),
        "answers_slower_than_3s": sum(1 for v in sender.http.values() if v > SLACK_TIMEOUT),
        "event_to_stored_ms": summary([v * 1000 for v in to_stored]),
        "event_to_seen_by_watcher_ms": summary([v * 1000 for v in seen.values()]),
        "event_to_http_200_ms": summary([v * 1000 for v in sender.http.values()]),
        "event_to_claim_on_message_ms": summary([v * 1000 for v in to_message]),
        "watcher_polls": polls,
        "alerts_stored": len(rows),
        "alerts_lost": len(sent_ts - set(by_event)),
        "alerts_stored_twice": sum(n - 1 for n in by_event.values() if n > 1),
        "claims_posted_twice": sum(n - 1 for n in single_posts.values() if n > 1),
        "claims_both_posted_and_on_board": len(combined & set(single_posts)),
        "claims_not_on_a_message": sum(1 for _, _, m, _ in rows if m is None),
        "alerts_shown_in_slack": shown,
        "single_claim_posts": sum(single_posts.values()),
        "board_posts": len(boards),
        "post_message_total": standin.count("chat.postMessage"),
        "update_total": standin.count("chat.update"),
        "refused_429_total": sum(standin.limited.values()),
        "bot_counted_429": bot_429,
        "per_channel": per_channel,
        "log_warnings": log.count('"level": "WARNING"'),
        "log_errors": log.count('"level": "ERROR"'),
    }


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the storm")
    args = parser.parse_args()
    alerts, systems = (500, 100) if args.quick else (5_000, 1_000)
    r = asyncio.run(run(alerts, systems, args.seconds))

    def ms(key: str) -> str:
        s = r[key]
        return f"{s['p50']:.1f} / {s['p99']:.1f} / {s['max']:.1f} ms"

    settled = r["settled_after_answers_s"]
    rows = [
        (
            "alerts / systems / channels",
            f"{alerts:,} / {systems:,} / {CHANNELS} in {args.seconds:g} s",
        ),
        (
            "sending took",
            f"{r['sending_took_s']:.2f} s (all answered after {r['all_answered_s']:.2f} s)",
        ),
        (
            "server CPU: while answering / until settled",
            f"{r['server_cpu_while_answering_s']:.1f} s / {r['server_cpu_until_settled_s']:.1f} s",
        ),
        (
            "CPU per alert (until settled) / floor",
            f"{r['cpu_ms_per_alert']:.2f} ms / {r['floor_cpu_ms_per_alert'] * 1000:.0f} µs "
            f"(ratio {r['cpu_ms_per_alert'] / r['floor_cpu_ms_per_alert']:.0f}x)",
        ),
        ("HTTP answers", ", ".join(f"{k}: {v}" for k, v in sorted(r["http_statuses"].items()))),
        ("redeliveries / undelivered", f"{r['redeliveries']} / {r['undelivered']}"),
        ("answers slower than Slack's 3 s", str(r["answers_slower_than_3s"])),
        ("event -> stored claim p50 / p99 / max", ms("event_to_stored_ms")),
        ("  (first seen by the database watcher)", ms("event_to_seen_by_watcher_ms")),
        ("event -> HTTP 200 p50 / p99 / max", ms("event_to_http_200_ms")),
        ("event -> claim on a message p50 / p99 / max", ms("event_to_claim_on_message_ms")),
        ("alerts stored / lost", f"{r['alerts_stored']:,} / {r['alerts_lost']}"),
        (
            "duplicates: alerts stored twice / claims posted twice",
            f"{r['alerts_stored_twice']} / {r['claims_posted_twice']}",
        ),
        ("claims both posted and on a board", str(r["claims_both_posted_and_on_board"])),
        ("claims not on a message at the end", str(r["claims_not_on_a_message"])),
        ("alerts shown in Slack (claims + board totals)", f"{r['alerts_shown_in_slack']:,}"),
        (
            "messages: claims / boards / updates",
            f"{r['single_claim_posts']} / {r['board_posts']} / {r['update_total']}",
        ),
        (
            "429s: refused by Slack / counted by the bot",
            f"{r['refused_429_total']} / {r['bot_counted_429']:g}"
            if r["bot_counted_429"] is not None
            else f"{r['refused_429_total']} / ?",
        ),
        (
            "boards settled after the last answer",
            f"{settled:.1f} s" if settled is not None else "not within 120 s",
        ),
        ("server log warnings / errors", f"{r['log_warnings']} / {r['log_errors']}"),
    ]
    for channel, c in r["per_channel"].items():
        rows.append(
            (
                f"  {channel}: alerts, posted + updated, 429",
                f"{c['alerts']}, {c['posted']} + {c['updated']}, {c['refused_429']}",
            )
        )
    report("storm", rows, {"quick": args.quick, **r})


if __name__ == "__main__":
    main()
