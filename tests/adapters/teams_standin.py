"""A Bot Framework connector stand-in for Teams tests, the people and places of a test tenant,
builders of the activities Teams posts, and a helper that runs the real bot server.

The stand-in is an aiohttp app on 127.0.0.1 (OS-assigned port) answering the connector routes
the bot calls (`/v3/conversations...`): it records replies, updates, created conversations and
member look-ups, can answer 429 or refuse a person, and serves OpenID metadata with the key
"Bot Framework" signs tokens with. Nothing here imports botbuilder: tests speak wire JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from adapters.fake import ManualClock
from adapters.runtime import Runtime, build_runtime
from adapters.server import build_app
from adapters.settings import Settings
from tests.adapters.inbox_support import work_off

# ---- the test tenant --------------------------------------------------------------------------

APP_ID = "6c4e6bd3-1111-4222-8333-444455556666"
BOT = {"id": f"28:{APP_ID}", "name": "Accountability"}
TENANT = "b1a1a1a1-0000-4000-8000-0000000000aa"
TEAM = "19:team0000000000000000@thread.tacv2"
ALERTS = "19:alerts0000000000000000@thread.tacv2"
ELSEWHERE = "19:random0000000000000000@thread.tacv2"
REGION = "amer"
ISSUER = "https://api.botframework.com"


@dataclass(frozen=True)
class Person:
    """A member of the test tenant."""

    key: str
    name: str
    email: str
    aad: str
    id: str  # the "29:..." Teams id

    def account(self) -> dict[str, str]:
        """The `from` of an activity this person sends."""
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad}

    def member(self) -> dict[str, str]:
        """What the connector's member API says about them."""
        given, _, surname = self.name.partition(" ")
        return {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad,
            "email": self.email,
            "userPrincipalName": self.email,
            "givenName": given,
            "surname": surname,
            "tenantId": TENANT,
            "userRole": "user",
        }


def _person(key: str, name: str, n: int) -> Person:
    return Person(
        key,
        name,
        f"{key}@example.com",
        f"00000000-0000-4000-8000-{n:012d}",
        f"29:1{key}teamsid",
    )


ALICE = _person("alice", "Alice Ng", 1)
BOB = _person("bob", "Bob Ruiz", 2)
CAROL = _person("carol", "Carol Diaz", 3)  # the registry gives her Teams (AAD) id
DANA = _person("dana", "Dana Wu", 4)
MALLORY = _person("mallory", "Mallory Kay", 5)  # not in the registry
EVERYONE = (ALICE, BOB, CAROL, DANA, MALLORY)

REGISTRY = f"""
version: 1
people:
  alice: {{name: Alice Ng, email: alice@example.com}}
  bob: {{name: Bob Ruiz, email: bob@example.com}}
  carol: {{name: Carol Diaz, email: carol@example.com, teams: "{CAROL.aad}"}}
  dana: {{name: Dana Wu, email: dana@example.com}}
admins: [dana]
channels:
  - {{teams: "{ALERTS}", fallback: dana}}
systems:
  billing-router:
    name: Billing ticket router
    operator: alice
    maintainer: bob
    steward: carol
    stop_authority: carol
    match: [billing-router, 'routing model']
    channels: [{{teams: "{ALERTS}"}}]
    escalation:
      - {{notify: maintainer, after: 10m}}
      - {{notify: steward, after: 30m}}
      - {{notify: dana, after: 48h}}
    stop:
      command: [{{python}}, -c, "import pathlib; pathlib.Path('stopped.flag').write_text('x')"]
    resume:
      command: [{{python}}, -c, "import pathlib; pathlib.Path('stopped.flag').unlink()"]
"""


# ---- the connector stand-in ---------------------------------------------------------------------


@dataclass
class Call:
    """One request the bot made to the connector."""

    kind: str  # send | reply | update | create | member | roster
    conversation: str | None
    activity_id: str | None
    body: Any
    authorization: str | None
    answer_id: str | None = None


@dataclass
class ConnectorStandIn:
    """Records what the bot sends; knows the tenant's members."""

    members: dict[str, Person] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)  # AAD or 29: ids that cannot be DMed
    rate_limit: int = 0  # answer this many next calls with 429 Retry-After: 0
    page_size: int = 2
    keys: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    metadata_hits: int = 0
    url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1700000000001))
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        if not self.keys:
            self.keys.append(TEST_KEY.jwk())
        for p in EVERYONE:
            self.members[p.aad] = p
            self.members[p.id] = p

    @property
    def service_url(self) -> str:
        """The serviceUrl activities carry."""
        return f"{self.url}/{REGION}/"

    @property
    def metadata_url(self) -> str:
        """The OpenID metadata document (TEAMS_OPENID_METADATA_URL)."""
        return f"{self.url}/openid/.well-known/openidconfiguration"

    async def start(self) -> None:
        """Listen on 127.0.0.1 with an OS-assigned port."""
        app = web.Application()
        base = f"/{REGION}/v3/conversations"
        app.router.add_post(base, self._create)
        app.router.add_post(base + "/{cid}/activities", self._send)
        app.router.add_post(base + "/{cid}/activities/{aid}", self._reply)
        app.router.add_put(base + "/{cid}/activities/{aid}", self._update)
        app.router.add_get(base + "/{cid}/members/{mid}", self._member)
        app.router.add_get(base + "/{cid}/pagedmembers", self._roster)
        app.router.add_get("/openid/.well-known/openidconfiguration", self._openid)
        app.router.add_get("/openid/keys", self._keys)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- what tests ask ---------------------------------------------------------------------

    def of(self, kind: str, conversation: str | None = None) -> list[Call]:
        """Calls of one kind, optionally to one conversation."""
        return [
            c
            for c in self.calls
            if c.kind == kind and (conversation is None or c.conversation == conversation)
        ]

    def messages(self, conversation: str | None = None) -> list[Call]:
        """Messages posted (sends and replies), optionally in one conversation."""
        return [
            c
            for c in self.calls
            if c.kind in ("send", "reply")
            and (conversation is None or c.conversation == conversation)
        ]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> None:
        """Wait until the bot has made the calls `predicate` looks for (it may post after
        answering Teams)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    def personal_chats_with(self, person: Person) -> list[str]:
        """Ids of the personal conversations the bot created with this person."""
        return [
            str(c.answer_id)
            for c in self.of("create")
            if any(m.get("id") in (person.id, person.aad) for m in c.body.get("members", []))
            and c.answer_id
        ]

    # ---- routes -------------------------------------------------------------------------------

    async def _record(self, request: web.Request, kind: str, body: Any = None) -> Call:
        call = Call(
            kind=kind,
            conversation=request.match_info.get("cid"),
            activity_id=request.match_info.get("aid") or request.match_info.get("mid"),
            body=body,
            authorization=request.headers.get("Authorization"),
        )
        self.calls.append(call)
        return call

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _limited(self) -> web.Response | None:
        if self.rate_limit > 0:
            self.rate_limit -= 1
            return web.json_response(
                {"error": {"code": "TooManyRequests", "message": "slow down"}},
                status=429,
                headers={"Retry-After": "0"},
            )
        return None

    async def _send(self, request: web.Request) -> web.Response:
        if (limited := self._limited()) is not None:
            await self._record(request, "throttled")
            await self._notify()
            return limited
        call = await self._record(request, "send", await request.json())
        call.answer_id = str(next(self._ids))
        await self._notify()
        return web.json_response({"id": call.answer_id}, status=201)

    async def _reply(self, request: web.Request) -> web.Response:
        if (limited := self._limited()) is not None:
            await self._record(request, "throttled")
            await self._notify()
            return limited
        call = await self._record(request, "reply", await request.json())
        call.answer_id = str(next(self._ids))
        await self._notify()
        return web.json_response({"id": call.answer_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        call = await self._record(request, "update", await request.json())
        call.answer_id = call.activity_id
        await self._notify()
        return web.json_response({"id": call.activity_id}, status=200)

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = await self._record(request, "create", body)
        wanted = {m.get("id") for m in body.get("members") or []}
        if wanted & self.unreachable:
            await self._notify()
            return web.json_response(
                {"error": {"code": "Forbidden", "message": "The bot is not part of the roster"}},
                status=403,
            )
        call.answer_id = f"a:1personal{next(self._ids)}"
        await self._notify()
        return web.json_response({"id": call.answer_id}, status=201)

    async def _member(self, request: web.Request) -> web.Response:
        await self._record(request, "member")
        await self._notify()
        person = self.members.get(request.match_info["mid"])
        if person is None:
            return web.json_response(
                {"error": {"code": "NotFound", "message": "member not found"}}, status=404
            )
        return web.json_response(person.member())

    async def _roster(self, request: web.Request) -> web.Response:
        await self._record(request, "roster")
        await self._notify()
        everyone = [p.member() for p in EVERYONE]
        start = int(request.query.get("continuationToken") or 0)
        size = min(int(request.query.get("pageSize") or 100), self.page_size)
        page = everyone[start : start + size]
        token = str(start + size) if start + size < len(everyone) else None
        return web.json_response({"members": page, "continuationToken": token})

    async def _openid(self, request: web.Request) -> web.Response:
        self.metadata_hits += 1
        return web.json_response(
            {
                "issuer": ISSUER,
                "jwks_uri": f"{self.url}/openid/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": self.keys})


# ---- signing keys -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair and the JWK a metadata endpoint would publish for it."""

    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        """A fresh 2048-bit key."""
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        """The public half, as Bot Framework publishes its keys (endorsed for Teams)."""
        published: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        published.update({"kid": self.kid, "use": "sig", "endorsements": ["msteams"]})
        return published

    def token(self, *, service_url: str, audience: str = APP_ID, **overrides: Any) -> str:
        """A Bot Framework channel token for `audience`, signed with this key."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": now - 10,
            "iat": now - 10,
            "exp": now + 600,
        }
        claims.update(overrides)
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})


# The key "Bot Framework" signs the tests' activities with (published by every stand-in that
# is not given keys of its own). One for the run: botbuilder caches metadata per URL.
TEST_KEY = SigningKey.generate("bf-test-key")


# ---- activities -------------------------------------------------------------------------------

_activity_ids = itertools.count(1800000000001)


def next_id() -> str:
    """A fresh Teams-style message id."""
    return str(next(_activity_ids))


def _base(service_url: str, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "id": next_id(),
        "timestamp": "2026-11-02T09:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "recipient": dict(BOT),
        "locale": "en-US",
    }


def personal_chat(person: Person) -> str:
    """The id of a person's personal chat with the bot (as Teams would have assigned it)."""
    return f"a:1chat-{person.key}"


def personal(service_url: str, person: Person, text: str) -> dict[str, Any]:
    """A message in a person's personal chat with the bot."""
    activity = _base(service_url, "message")
    activity.update(
        {
            "from": person.account(),
            "conversation": {
                "id": personal_chat(person),
                "conversationType": "personal",
                "tenantId": TENANT,
            },
            "text": text,
            "textFormat": "plain",
            "channelData": {"tenant": {"id": TENANT}},
        }
    )
    return activity


def channel_data(channel: str) -> dict[str, Any]:
    """channelData of an activity in a team channel."""
    return {
        "teamsChannelId": channel,
        "teamsTeamId": TEAM,
        "channel": {"id": channel},
        "team": {"id": TEAM},
        "tenant": {"id": TENANT},
    }


def channel_post(
    service_url: str,
    text: str,
    *,
    channel: str = ALERTS,
    sender: dict[str, Any] | None = None,
    thread: str | None = None,
    mention_bot: bool = False,
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A post in a channel (a new thread unless `thread` names one), from a person or an
    integration. With `mention_bot` the text starts with an @mention of the bot."""
    activity = _base(service_url, "message")
    root = thread or activity["id"]
    entities = []
    if mention_bot:
        text = f"<at>{BOT['name']}</at> {text}"
        entities.append(
            {"type": "mention", "text": f"<at>{BOT['name']}</at>", "mentioned": dict(BOT)}
        )
    activity.update(
        {
            "from": sender or {"id": "28:grafana-connector", "name": "Grafana"},
            "conversation": {
                "id": f"{channel};messageid={root}",
                "conversationType": "channel",
                "isGroup": True,
                "tenantId": TENANT,
            },
            "text": f"<p>{text}</p>",
            "textFormat": "xml",
            "entities": entities,
            "channelData": channel_data(channel),
        }
    )
    if thread is not None:
        activity["replyToId"] = thread
    if attachments is not None:
        activity["attachments"] = attachments
    return activity


def card_click(
    service_url: str,
    person: Person,
    *,
    verb: str,
    value: str,
    card_id: str,
    conversation: str,
    conversation_type: str = "channel",
    target: str | None = None,
) -> dict[str, Any]:
    """The `adaptiveCard/action` invoke Teams posts when someone clicks an Action.Execute."""
    activity = _base(service_url, "invoke")
    data: dict[str, Any] = {"action": verb, "value": value}
    if target is not None:
        data["target"] = target
    activity.update(
        {
            "name": "adaptiveCard/action",
            "from": person.account(),
            "conversation": {
                "id": conversation,
                "conversationType": conversation_type,
                "tenantId": TENANT,
            },
            "replyToId": card_id,
            "value": {
                "action": {"type": "Action.Execute", "verb": verb, "data": data},
                "trigger": "manual",
            },
            "channelData": channel_data(conversation.split(";")[0])
            if conversation_type == "channel"
            else {"tenant": {"id": TENANT}},
        }
    )
    return activity


def submit_click(
    service_url: str, person: Person, *, action: str, value: str, card_id: str, conversation: str
) -> dict[str, Any]:
    """What clients without Universal Actions post for the Action.Submit fallback."""
    activity = _base(service_url, "message")
    activity.update(
        {
            "from": person.account(),
            "conversation": {"id": conversation, "conversationType": "channel", "tenantId": TENANT},
            "replyToId": card_id,
            "value": {"action": action, "value": value},
            "channelData": channel_data(conversation.split(";")[0]),
        }
    )
    return activity


def team_installed(service_url: str, person: Person) -> dict[str, Any]:
    """installationUpdate: the app was added to the team (in its General channel)."""
    activity = _base(service_url, "installationUpdate")
    activity.update(
        {
            "action": "add",
            "from": person.account(),
            "conversation": {"id": TEAM, "conversationType": "channel", "tenantId": TENANT},
            "channelData": {
                "team": {"id": TEAM},
                "tenant": {"id": TENANT},
                "channel": {"id": TEAM},
            },
        }
    )
    return activity


# ---- cards as the stand-in received them ------------------------------------------------------


def card_of(call: Call) -> dict[str, Any]:
    """The Adaptive Card a message or update carried."""
    attachments = call.body.get("attachments") or []
    assert attachments, f"no attachment in {call.body}"
    assert attachments[0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    content: dict[str, Any] = attachments[0]["content"]
    return content


def card_text(card: dict[str, Any]) -> str:
    """The card's visible words: text blocks and facts."""
    words: list[str] = []
    for block in card.get("body", []):
        if block.get("type") == "TextBlock":
            words.append(block["text"])
        elif block.get("type") == "FactSet":
            words += [f"{f['title']}: {f['value']}" for f in block["facts"]]
    return "\n".join(words)


def verbs(card: dict[str, Any]) -> list[str]:
    """The Action.Execute verbs of a card, hand-off's (inside its ShowCard) included."""
    found: list[str] = []
    for action in card.get("actions", []):
        if action["type"] == "Action.Execute":
            found.append(action["verb"])
        elif action["type"] == "Action.ShowCard":
            found += [a["verb"] for a in action["card"]["actions"] if a["type"] == "Action.Execute"]
    return found


# ---- the bot, running ------------------------------------------------------------------------


@dataclass
class RunningBot:
    """The real `serve` application on a loopback port, wired to a hand-moved clock."""

    url: str
    runtime: Runtime
    clock: ManualClock
    http: aiohttp.ClientSession
    folder: Path
    app: web.Application
    signer: SigningKey | None = None

    async def post(
        self,
        activity: Any,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        unsigned: bool = False,
    ) -> tuple[int, Any]:
        """POST an activity to /api/messages; the status and the JSON (or text) answer. With
        a signer, the activity carries a genuine token for its serviceUrl unless `unsigned`."""
        sent = dict(headers or {})
        if token is None and self.signer is not None and not unsigned:
            url = activity.get("serviceUrl") if isinstance(activity, dict) else None
            token = self.signer.token(service_url=url if isinstance(url, str) else "")
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if isinstance(activity, str | bytes):
            sent.setdefault("Content-Type", "application/json")
            request = self.http.post(self.url, data=activity, headers=sent)
        else:
            request = self.http.post(self.url, json=activity, headers=sent)
        async with request as response:
            text = await response.text()
        await work_off(self.runtime)  # the alert in a post is stored after the answer
        try:
            return response.status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return response.status, text


@asynccontextmanager
async def running_bot(
    folder: Path,
    *,
    app_id: str | None = None,
    metadata_url: str | None = None,
    registry: str = REGISTRY,
    database_url: str | None = None,
    standin: ConnectorStandIn | None = None,
    dev_anonymous: bool = False,
    tenant: str | None = TENANT,
) -> AsyncIterator[RunningBot]:
    """build_runtime + build_app on 127.0.0.1:0 with a ManualClock and a SQLite file.

    With `standin`, the bot is set up as in production (TEAMS_APP_ID, the stand-in's signing
    keys, the test tenant pinned) and every activity posted carries a genuine token; outbound
    calls to the stand-in go without a token (it asks for none)."""
    import sys

    signer = None
    if standin is not None and app_id is None:
        app_id, metadata_url, signer = APP_ID, standin.metadata_url, TEST_KEY
    path = folder / "ownership.yaml"
    path.write_text(registry.replace("{python}", json.dumps(sys.executable)))
    settings = Settings(
        ownership_file=str(path),
        database_url=database_url or f"sqlite:///{folder / 'bot.db'}",
        teams_app_id=app_id,
        teams_app_password=None,
        teams_app_tenant_id=tenant if app_id else None,
        teams_dev_anonymous=dev_anonymous,
        teams_openid_metadata_url=metadata_url,
        slack_bot_token=None,
        slack_signing_secret=None,
        slack_app_token=None,
        alert_ingest_token=None,
        escalation_tick="1h",  # tests call service.tick() themselves
        stale_scan_cron="0 3 1 1 *",  # far from the ManualClock's start: no catch-up scan
        governance_cron="0 3 1 1 *",
        sandbox=False,  # real stop actions, even in the emulator set-up without an app id
    )
    clock = ManualClock()
    runtime = await build_runtime(settings, clock=clock)
    if signer is not None and runtime.teams is not None:
        runtime.teams.credentials.untokened_outbound = True
    app = build_app(runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as http:
            yield RunningBot(
                f"http://{host}:{port}/api/messages", runtime, clock, http, folder, app, signer
            )
    finally:
        await runner.cleanup()
