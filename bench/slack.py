"""Shared pieces of the Slack benchmarks: a Slack Web API stand-in that enforces Slack's
per-channel posting pace, requests signed as Slack signs them, and `accountability-bot serve`
started as a subprocess against a generated registry, a temporary SQLite file and the stand-in.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import os
import re
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

BOT_TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
TEAM = "T0BENCH01"
BOT_USER = "U0BOT0001"
BOT_ID = "B0BOT0001"


def slack_signature(timestamp: str, body: bytes, secret: str = SIGNING_SECRET) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`: Slack's request signature."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, content_type: str) -> dict[str, str]:
    """The headers Slack sends with every request to the bot."""
    ts = str(int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(ts, body),
    }


@dataclass
class Posted:
    """A message the stand-in accepted (chat.postMessage), and what it shows now."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    blocks: list[Any]
    at: float
    updates: int = 0
    updated_at: float | None = None


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class StandIn:
    """The Slack Web API as far as the bot uses it, on 127.0.0.1 with an OS-assigned port.

    chat.postMessage is limited per channel like Slack: `rate` messages per second with a
    burst of `burst`; beyond it the answer is HTTP 429 with `Retry-After` (whole seconds).
    Every call is counted per method and channel; response_url answers are timed.
    """

    rate: float = 1.0
    burst: int = 3
    url: str = ""
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, channel)
    limited: Counter[str] = field(default_factory=Counter)  # 429s per channel
    posts: dict[tuple[str, str], Posted] = field(default_factory=dict)
    responses: dict[str, tuple[float, bytes]] = field(default_factory=dict)  # key -> when, body
    _waiting: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on 127.0.0.1, port 0."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL is set to."""
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        """A response_url whose answer is recorded under `key`."""
        return f"{self.url}/response/{key}"

    async def wait_response(self, key: str, within: float) -> bool:
        """Wait for the response_url answer recorded under `key`; False when none came."""
        if key in self.responses:
            return True
        waiter = self._waiting.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), within)
        except TimeoutError:
            return False
        return True

    def count(self, method: str, channel: str | None = None) -> int:
        """Accepted calls of a method (in one channel, or all)."""
        return sum(n for (m, c), n in self.calls.items() if m == method and channel in (None, c))

    # ---- Web API ----------------------------------------------------------------------

    def _take(self, channel: str, now: float) -> float:
        """0 when a post may go now (and uses it), else seconds until it may."""
        bucket = self._buckets.setdefault(channel, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        args: dict[str, Any] = dict(request.query)
        if raw:
            if request.content_type == "application/json":
                args.update(json.loads(raw))
            else:
                args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        if isinstance(args.get("blocks"), str):
            args["blocks"] = json.loads(args["blocks"])
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        channel = str(args.get("channel", ""))
        now = time.monotonic()
        if method == "chat.postMessage":
            wait = self._take(channel, now)
            if wait > 0:
                self.limited[channel] += 1
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
        self.calls[(method, channel)] += 1
        return web.json_response(self._answer(method, args, channel, now))

    def _answer(self, method: str, args: dict[str, Any], channel: str, now: float) -> Any:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://bench.slack.com/",
                "team": "Bench",
                "user": "accountability",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
            }
        if method == "chat.postMessage":
            n = next(self._ts)
            ts = f"{1_900_000_000 + n}.{n:06d}"
            self.posts[(channel, ts)] = Posted(
                channel,
                ts,
                args.get("thread_ts") or None,
                str(args.get("text", "")),
                list(args.get("blocks") or []),
                now,
            )
            return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}
        if method == "chat.update":
            post = self.posts.get((channel, str(args.get("ts"))))
            if post is None:
                return {"ok": False, "error": "message_not_found"}
            post.text = str(args.get("text", ""))
            post.blocks = list(args.get("blocks") or [])
            post.updates += 1
            post.updated_at = now
            return {"ok": True, "channel": channel, "ts": post.ts}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{next(self._ts)}.000000"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "X"))[1:]}}
        if method in ("users.info", "users.lookupByEmail"):
            user = str(args.get("user") or "U0PERSON0")
            email = str(args.get("email") or f"{user.lower()}@example.com")
            profile = {"email": email, "real_name": user}
            return {"ok": True, "user": {"id": user, "deleted": False, "profile": profile}}
        return {"ok": False, "error": "unknown_method"}

    async def _response(self, request: web.Request) -> web.Response:
        at = time.perf_counter()
        key = request.match_info["key"]
        self.responses.setdefault(key, (at, await request.read()))
        waiter = self._waiting.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return web.Response(text="ok")


_STORM_TITLE = re.compile(r"Alert storm: (\d+) alerts")


def board_total(post: Posted) -> int | None:
    """How many alerts a storm board shows now; None for a message that is no board."""
    found = _STORM_TITLE.search(post.text)
    if found:
        return int(found.group(1))
    if post.text.startswith("Alert storm"):
        return 0  # the opening draw, before the first redraw
    return None


# ---- the bot under test -------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _command() -> list[str]:
    if profile := os.environ.get("BENCH_PROFILE"):  # a cProfile of `serve`, written at exit
        return [sys.executable, "-m", "cProfile", "-o", profile, "-m", "adapters.cli", "serve"]
    script = Path(sys.executable).parent / "accountability-bot"
    return (
        [str(script), "serve"]
        if script.exists()
        else [sys.executable, "-m", "adapters.cli", "serve"]
    )


@dataclass
class Server:
    """`accountability-bot serve` in a subprocess."""

    proc: asyncio.subprocess.Process
    url: str
    log: Path
    started_s: float

    @property
    def events_url(self) -> str:
        """Slack's Request URL."""
        return f"{self.url}/slack/events"

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_server(
    *, tmp: Path, registry: str, standin: StandIn, extra: dict[str, str] | None = None
) -> Server:
    """Write the registry, start `serve` on a temporary SQLite file, wait for /healthz."""
    (tmp / "ownership.yaml").write_text(registry)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TEAMS_", "ALERT_INGEST", "DATABASE_URL", "ESCALATION"))
    }
    env.update(
        OWNERSHIP_FILE=str(tmp / "ownership.yaml"),
        DATABASE_URL=f"sqlite:///{tmp}/bench.db",
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_LEVEL="WARNING",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.api_url,
        STALE_SCAN_CRON="0 3 1 1 *",  # no stale-ownership scan during the run
        **(extra or {}),
    )
    log = tmp / "serve.log"
    began = time.monotonic()
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *_command(), env=env, cwd=tmp, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - began < 120:
            if proc.returncode is not None:
                break
            try:
                async with session.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return Server(proc, url, log, time.monotonic() - began)
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    server = Server(proc, url, log, 0.0)
    await server.stop()
    raise SystemExit(f"serve did not become healthy:\n{log.read_text()[-3000:]}")
