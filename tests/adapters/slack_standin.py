"""A Slack Web API stand-in and a harness that runs the real bot against it.

`SlackStandIn` is an aiohttp server on 127.0.0.1 (OS-assigned port) that answers the Web API
methods the bot calls, records every call, keeps the messages it was asked to post and update,
and can answer HTTP 429 with `Retry-After` the way Slack does (calls that come back before the
announced time are refused again). It also records response_url answers, receives stop/resume
webhooks, and serves a Socket Mode websocket.

`slack_env` builds the real runtime (`build_runtime` / `build_app`) on a temporary SQLite file
with a ManualClock, points the real slack_sdk client at the stand-in (SLACK_API_URL), serves
the app on 127.0.0.1 and sends it requests signed exactly as Slack signs them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.fake import ManualClock
from adapters.runtime import Runtime, build_runtime
from adapters.server import build_app
from adapters.settings import Settings
from adapters.slack.app import SLACK, SlackAdapter
from bot.domain import Alert, AuditEntry
from tests.adapters.inbox_support import work_off

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
STOP_SECRET = "stop-hook-secret"
TEAM = "T0TEST001"
BOT_USER = "U0BOT0001"
BOT_ID = "B0BOT0001"
WORKSPACE_URL = "https://acme-test.slack.com/"
ALERTS = "C0ALERTS1"

USERS: dict[str, dict[str, Any]] = {
    "U0ALICE01": {"email": "alice@example.com", "name": "alice"},
    "U0BOB0002": {"email": "bob@example.com", "name": "bob"},
    "U0CAROL03": {"email": "carol@example.com", "name": "carol"},
    "U0DANA004": {"email": "dana@example.com", "name": "dana"},
    "U0ERIN005": {"email": "erin@example.com", "name": "erin"},
    "U0MALLORY": {"email": "mallory@example.com", "name": "mallory"},
    "U0GONE006": {"email": "gone@example.com", "name": "gone", "deleted": True},
}


@dataclass
class Call:
    """One request the stand-in received."""

    method: str  # Web API method, or "response_url" / "webhook"
    args: dict[str, Any]
    status: int
    headers: dict[str, str]
    path: str
    raw: bytes = b""
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Limit:
    remaining: int
    retry_after: int
    until: float = 0.0


@dataclass
class SlackStandIn:
    """The Slack Web API as far as the bot uses it."""

    token: str = BOT_TOKEN
    app_token: str = APP_TOKEN
    users: dict[str, dict[str, Any]] = field(default_factory=lambda: json.loads(json.dumps(USERS)))
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    webhook_status: int = 200
    channel_window: float | None = None  # refuse a 2nd post to a channel within this many s
    refuse_posts: dict[str, str] = field(default_factory=dict)  # channel -> Slack error
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    # While a gate is closed, Web API calls (api_gate) or webhooks (webhook_gate) wait for it:
    # tests use them to show that Slack got its answer before the slow work finished.
    api_gate: asyncio.Event | None = None
    webhook_gate: asyncio.Event | None = None
    _limits: dict[str, _Limit] = field(default_factory=dict)
    _last_post: dict[str, float] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _responses: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _socket_ready: asyncio.Event = field(default_factory=asyncio.Event)
    _acked: asyncio.Condition = field(default_factory=asyncio.Condition)
    url: str = ""
    _runner: web.AppRunner | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 with an OS-assigned port."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_post("/hooks/{tail:.*}", self._webhook)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        """Stop listening."""
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL is set to."""
        return f"{self.url}/api/"

    def response_url(self) -> str:
        """A fresh response_url for an interaction payload."""
        return f"{self.url}/response/{next(self._responses)}"

    # ---- what tests arrange ---------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and `Retry-After`; like Slack, a
        call that comes back before that time has passed is refused again."""
        self._limits[method] = _Limit(times, retry_after)

    def lift_rate_limits(self) -> None:
        """Slack stops refusing."""
        self._limits.clear()

    # ---- what tests ask -----------------------------------------------------------------------

    def calls_to(self, method: str, *, ok: bool = True) -> list[Call]:
        """Calls of one method; by default only those that were answered 200."""
        return [c for c in self.calls if c.method == method and (not ok or c.status == 200)]

    def posts(self, channel: str | None = None, *, thread: str | None = None) -> list[Call]:
        """Accepted chat.postMessage calls, optionally in one channel / thread."""
        return [
            c
            for c in self.calls_to("chat.postMessage")
            if (channel is None or c.args.get("channel") == channel)
            and (thread is None or c.args.get("thread_ts") == thread)
        ]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The current state of a posted (and maybe updated) message."""
        return self.messages[(channel, ts)]

    # ---- Web API --------------------------------------------------------------------------

    async def _args(self, request: web.Request) -> tuple[dict[str, Any], bytes]:
        args: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                args.update(json.loads(raw))
            else:
                args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        for key in ("blocks", "attachments"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args, raw

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args, raw = await self._args(request)
        if self.api_gate is not None and method != "auth.test":
            await self.api_gate.wait()
        headers = dict(request.headers)
        expected = self.app_token if method == "apps.connections.open" else self.token
        if request.headers.get("Authorization") != f"Bearer {expected}":
            return self._record(
                method, args, headers, request, raw, {"ok": False, "error": "invalid_auth"}
            )
        limit = self._limits.get(method)
        now = time.monotonic()
        if limit is not None and (limit.remaining > 0 or now < limit.until):
            if now >= limit.until:
                limit.remaining -= 1
                limit.until = now + limit.retry_after
            wait = max(1, int(limit.until - now + 0.999))
            self.calls.append(Call(method, args, 429, headers, request.path, raw))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        if method == "chat.postMessage" and self.channel_window is not None:
            channel = str(args.get("channel"))
            last = self._last_post.get(channel)
            if last is not None and now - last < self.channel_window:
                self.calls.append(Call(method, args, 429, headers, request.path, raw))
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
                )
            self._last_post[channel] = now
        answer = self._answer(method, args)
        return self._record(method, args, headers, request, raw, answer)

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        headers: dict[str, str],
        request: web.Request,
        raw: bytes,
        answer: dict[str, Any],
    ) -> web.Response:
        self.calls.append(Call(method, args, 200, headers, request.path, raw, answer))
        return web.json_response(answer)

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1_800_000_000 + n}.{n:06d}"

    def _user(self, user_id: str) -> dict[str, Any]:
        spec = self.users[user_id]
        return {
            "id": user_id,
            "team_id": TEAM,
            "name": spec["name"],
            "deleted": bool(spec.get("deleted")),
            "is_bot": False,
            "profile": {"email": spec["email"], "real_name": spec["name"].title()},
        }

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": WORKSPACE_URL,
                "team": "Acme",
                "user": "accountability",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            channel = str(args.get("channel", ""))
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            if channel in self.refuse_posts:  # not invited (not_in_channel), gone, archived
                return {"ok": False, "error": self.refuse_posts[channel]}
            ts = self._next_ts()
            message = {
                "type": "message",
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "ts": ts,
                "text": args.get("text", ""),
                "blocks": args.get("blocks", []),
            }
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            if isinstance(args.get("metadata"), dict):
                message["metadata"] = args["metadata"]
            self.messages[(channel, ts)] = message
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            key = (str(args.get("channel")), str(args.get("ts")))
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key].update(
                text=args.get("text", ""), blocks=args.get("blocks", []), edited=True
            )
            return {"ok": True, "channel": key[0], "ts": key[1], "text": args.get("text", "")}
        if method == "chat.postEphemeral":
            if str(args.get("user")) not in self.users:
                return {"ok": False, "error": "user_not_in_channel"}
            return {"ok": True, "message_ts": self._next_ts()}
        if method in ("conversations.replies", "conversations.history"):
            return {"ok": True, "messages": self._read(method, args), "has_more": False}
        if method == "conversations.open":
            user = str(args.get("users", ""))
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "channel": {"id": "D" + user[1:]}}
        if method == "users.lookupByEmail":
            email = str(args.get("email", "")).lower()
            for user_id, spec in self.users.items():
                if spec["email"] == email:
                    return {"ok": True, "user": self._user(user_id)}
            return {"ok": False, "error": "users_not_found"}
        if method == "users.info":
            user = str(args.get("user", ""))
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": self._user(user)}
        if method == "views.open":  # the resolve form's modal; "expired" plays a late answer
            if args.get("trigger_id") == "expired":
                return {"ok": False, "error": "expired_trigger_id"}
            return {"ok": True, "view": {"id": "V" + self._next_ts().replace(".", "")}}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://{self.url.removeprefix('http://')}/socket"}
        return {"ok": False, "error": "unknown_method"}

    def _read(self, method: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        """A thread's replies or a channel's top-level messages, newest first, as Slack
        answers them (metadata only with include_all_metadata)."""
        channel, thread = str(args.get("channel")), args.get("ts")
        found = [
            m
            for (c, _), m in sorted(self.messages.items(), reverse=True)
            if c == channel
            and (
                m.get("thread_ts") == thread
                if method == "conversations.replies"
                else "thread_ts" not in m
            )
        ][: int(args.get("limit", 100))]
        if str(args.get("include_all_metadata", "")).lower() in ("1", "true"):
            return found
        return [{k: v for k, v in m.items() if k != "metadata"} for m in found]

    # ---- response_url and webhooks ---------------------------------------------------------

    async def _response_url(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.calls.append(
            Call("response_url", json.loads(raw), 200, dict(request.headers), request.path, raw)
        )
        return web.Response(text="ok")

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.webhook_gate is not None:
            await self.webhook_gate.wait()
        self.calls.append(
            Call(
                "webhook",
                json.loads(raw),
                self.webhook_status,
                dict(request.headers),
                request.path,
                raw,
            )
        )
        return web.json_response({"ok": self.webhook_status < 300}, status=self.webhook_status)

    # ---- Socket Mode ---------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        self._socket_ready.set()
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                async with self._acked:
                    self.socket_acks.append(data)
                    self._acked.notify_all()
        return ws

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        """Push an envelope to the connected Socket Mode client."""
        await asyncio.wait_for(self._socket_ready.wait(), 10)
        await self._sockets[-1].send_json(envelope)

    async def socket_ack(self, envelope_id: str, *, within: float = 10) -> dict[str, Any] | None:
        """The client's acknowledgement of an envelope, or None if none came in time."""

        def found() -> dict[str, Any] | None:
            return next((a for a in self.socket_acks if a.get("envelope_id") == envelope_id), None)

        async with self._acked:
            try:
                await asyncio.wait_for(self._acked.wait_for(lambda: found() is not None), within)
            except TimeoutError:
                return None
        return found()


# ---- requests as Slack sends them -------------------------------------------------------------


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`: Slack's request signature."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """The two headers Slack adds to every request."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": slack_signature(secret, ts, body)}


_event_ids = itertools.count(1)


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API envelope around one event."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0BOTAPP1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": 1_800_000_000,
        "authorizations": [
            {"team_id": TEAM, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
    }


def load_fixture(name: str, **replace: str) -> dict[str, Any]:
    """A JSON fixture from tests/fixtures/slack, with `{key}` placeholders filled."""
    text = (FIXTURES / name).read_text()
    for key, value in replace.items():
        text = text.replace("{" + key + "}", value)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass
class Answer:
    """What the bot's HTTP endpoint said."""

    status: int
    text: str

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.text)


@dataclass
class SlackEnv:
    """The running bot, its Slack stand-in, and helpers to talk to it as Slack does."""

    standin: SlackStandIn
    runtime: Runtime
    app: web.Application
    server: TestServer
    session: aiohttp.ClientSession
    clock: ManualClock
    registry_path: Path

    @property
    def adapter(self) -> SlackAdapter:
        """The mounted Slack adapter."""
        return self.app[SLACK]

    @property
    def events_url(self) -> str:
        """Where Slack posts events, commands and interactivity."""
        return str(self.server.make_url("/slack/events"))

    async def post_raw(
        self,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        sign: bool = True,
        timestamp: int | None = None,
        work_off: bool = True,
    ) -> Answer:
        """POST bytes to /slack/events, signed unless told otherwise; then (`work_off`) wait
        for the inbox worker to take what the bot recorded."""
        all_headers = {"Content-Type": content_type}
        if sign:
            all_headers.update(signed_headers(body, timestamp=timestamp))
        all_headers.update(headers or {})
        async with self.session.post(self.events_url, data=body, headers=all_headers) as resp:
            answer = Answer(resp.status, await resp.text())
        if work_off:
            await self.work_off()
        return answer

    async def work_off(self) -> None:
        """Wait until the inbox worker has taken every delivery the bot recorded (it answers
        an event once recorded and stores the alert after)."""
        await work_off(self.runtime)

    async def send_event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> Answer:
        """Deliver a signed Events API callback (a redelivery when `retry` is given)."""
        body = json.dumps(event_callback(event, event_id=event_id)).encode()
        headers = {}
        if retry is not None:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
        return await self.post_raw(body, headers=headers)

    async def send_body(
        self, body: dict[str, Any], *, retry: int | None = None, work_off: bool = True
    ) -> Answer:
        """Deliver a complete signed Events API body (for exact redeliveries)."""
        headers = {}
        if retry is not None:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post_raw(json.dumps(body).encode(), headers=headers, work_off=work_off)

    async def command(
        self, command: str, text: str = "", *, user: str, channel: str = ALERTS
    ) -> tuple[Answer, str]:
        """Run a slash command; returns the answer and the command's response_url."""
        response_url = self.standin.response_url()
        form = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "team_domain": "acme-test",
            "channel_id": channel,
            "channel_name": "alerts",
            "user_id": user,
            "user_name": USERS.get(user, {}).get("name", "someone"),
            "command": command,
            "text": text,
            "api_app_id": "A0BOTAPP1",
            "response_url": response_url,
            "trigger_id": "1337.42.abcd",
        }
        body = urlencode(form).encode()
        answer = await self.post_raw(body, content_type="application/x-www-form-urlencoded")
        return answer, response_url

    async def click(
        self,
        *,
        user: str,
        action_id: str,
        value: str | None = None,
        selected_user: str | None = None,
        block_id: str = "actions",
        channel: str = ALERTS,
        message: dict[str, Any] | None = None,
        ephemeral: bool = False,
        state: dict[str, Any] | None = None,
    ) -> tuple[Answer, str]:
        """Click a button (or pick a user) on a message; returns answer and response_url.
        `state` is the message's input values as Slack sends them (`state.values`)."""
        response_url = self.standin.response_url()
        action: dict[str, Any] = {"action_id": action_id, "block_id": block_id}
        if selected_user is not None:
            action.update(type="users_select", selected_user=selected_user)
        else:
            action.update(
                type="button", value=value or "", text={"type": "plain_text", "text": "x"}
            )
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": USERS.get(user, {}).get("name", "x"), "team_id": TEAM},
            "api_app_id": "A0BOTAPP1",
            "token": "legacy-verification-token",
            "team": {"id": TEAM, "domain": "acme-test"},
            "channel": {"id": channel, "name": "alerts"},
            "trigger_id": "1337.42.abcd",
            "response_url": response_url,
            "actions": [action],
        }
        if state is not None:
            payload["state"] = {"values": state}
        if ephemeral or message is None:
            payload["container"] = {
                "type": "message",
                "message_ts": "1800000000.999999",
                "channel_id": channel,
                "is_ephemeral": True,
            }
        else:
            payload["container"] = {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
            }
            payload["message"] = message
        body = urlencode({"payload": json.dumps(payload)}).encode()
        answer = await self.post_raw(body, content_type="application/x-www-form-urlencoded")
        return answer, response_url

    async def alert(self, alert_id: int) -> Alert:
        """One stored alert."""
        async with self.runtime.store.transaction() as tx:
            found = await tx.alerts.get(alert_id=alert_id)
        assert found is not None, f"no alert {alert_id}"
        return found

    async def open_alerts(self) -> list[Alert]:
        """Alerts not yet resolved."""
        async with self.runtime.store.transaction() as tx:
            return await tx.alerts.unresolved()

    async def audit(self) -> list[AuditEntry]:
        """The evidence log."""
        async with self.runtime.store.transaction() as tx:
            return await tx.evidence.entries()

    async def settle(self) -> None:
        """Wait until the work the bot started after answering Slack is done."""
        assert await self.runtime.background.drain(within=30), "background work did not finish"

    async def tick(self) -> None:
        """One escalation tick (the scheduler's job), then wait for its effects."""
        await self.runtime.service.tick()
        await self.settle()


@asynccontextmanager
async def slack_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    registry: str = "ownership.yaml",
    post_interval: float = 0.0,
    app_token: bool = False,
) -> AsyncIterator[SlackEnv]:
    """The real bot (build_runtime + build_app) against a fresh Slack stand-in."""
    for name in (
        "SLACK_APP_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "TEAMS_APP_ID",
        "TEAMS_APP_PASSWORD",
        "ALERT_INGEST_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BILLING_ROUTER_STOP_SECRET", STOP_SECRET)
    standin = SlackStandIn()
    await standin.start()
    registry_path = tmp_path / "ownership.yaml"
    registry_path.write_text(
        (FIXTURES / registry).read_text().replace("{hooks}", f"{standin.url}/hooks")
    )
    settings = Settings(
        ownership_file=str(registry_path),
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        slack_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        slack_app_token=APP_TOKEN if app_token else None,  # type: ignore[arg-type]
        slack_api_url=standin.api_url,
        escalation_tick="1h",  # type: ignore[arg-type]  # tests tick by hand
        stale_scan_cron="0 3 1 1 *",  # far from the test clock: no catch-up scan at start
        governance_cron="0 3 1 1 *",
    )
    clock = ManualClock()
    runtime = await build_runtime(settings, clock=clock)
    app = build_app(runtime)
    app[SLACK].platform.pacer.interval = post_interval
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    session = aiohttp.ClientSession()
    env = SlackEnv(standin, runtime, app, server, session, clock, registry_path)
    try:
        yield env
    finally:
        await session.close()
        await server.close()
        await standin.close()
