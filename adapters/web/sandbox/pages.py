"""The sandbox's HTTP routes under `/sandbox/`, answered only on loopback.

Every page works without JavaScript (forms post, then redirect back); `sandbox.js` only
refreshes the timeline when something changes. Who the pages act as is a cookie naming a
registry person: that is the point of a sandbox, and why it never leaves the machine.
"""

from __future__ import annotations

import ipaddress
import typing
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from adapters.web.sandbox import samples
from adapters.web.sandbox.actions import RECEIVER_PATH
from adapters.web.sandbox.core import Sandbox
from adapters.web.sandbox.platform import direct_conversation
from adapters.web.sandbox.view import page, static
from bot.events import Command
from bot.registry import parse_duration

PREFIX = "/sandbox"
ACT_AS = "sandbox_as"
SANDBOX: web.AppKey[Sandbox] = web.AppKey("sandbox")
STEPS = ("1m", "5m", "10m", "15m", "30m", "1h", "1d", "7d", "30d")
MAX_FORM = 64 * 1024
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (and IPv4 mapped into IPv6)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _host(value: str | None) -> str:
    host = urlsplit(f"//{value or ''}").hostname or ""
    return host.lower()


@web.middleware
async def loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse anything not from this machine: a remote peer, a request relayed by a proxy, a
    page of another site (DNS rebinding, cross-site forms)."""
    forwarded = any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP"))
    if not is_loopback(request.remote) or forwarded:
        raise web.HTTPForbidden(text="The sandbox answers only on this machine (loopback).")
    if _host(request.headers.get("Host")) not in LOCAL_HOSTS:
        raise web.HTTPForbidden(text="The sandbox answers only to localhost or 127.0.0.1.")
    if request.method == "POST" and not _same_site(request):
        raise web.HTTPForbidden(text="Cross-site request refused.")
    return await handler(request)


def _same_site(request: web.Request) -> bool:
    """A POST from one of our own pages (or from no page at all, like a stop webhook)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    return origin is None or _host(origin.partition("://")[2]) in LOCAL_HOSTS


def build(sandbox: Sandbox) -> web.Application:
    """The sandbox as an aiohttp sub-application, to be added under PREFIX."""
    app = web.Application(middlewares=[loopback_only])
    app[SANDBOX] = sandbox
    app.router.add_get("/", home)
    app.router.add_get("/c/{channel}", channel_page)
    app.router.add_get("/dm/{person}", direct_page)
    app.router.add_get("/actions", actions_page)
    app.router.add_get("/version", version)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_post("/as", act_as)
    app.router.add_post("/alert", post_alert)
    app.router.add_post("/say", say)
    app.router.add_post("/click", click)
    app.router.add_post("/clock", clock)
    app.router.add_post("/scan", scan)
    app.router.add_post(RECEIVER_PATH.removeprefix(PREFIX) + "/{token}", receiver)
    return app


def mount(app: web.Application, sandbox: Sandbox) -> None:
    """Serve the sandbox under /sandbox/ of `app`; `/` leads there unless another page
    (the console) already answers it."""
    app.add_subapp(PREFIX, build(sandbox))
    if not any(r.canonical == "/" for r in app.router.resources()):
        app.router.add_get("/", to_sandbox)


async def to_sandbox(request: web.Request) -> web.StreamResponse:
    """`GET /`: the sandbox."""
    raise web.HTTPFound(PREFIX + "/")


# ---- helpers ----------------------------------------------------------------------------------


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX]


def _me(request: web.Request) -> str:
    return _sandbox(request).person(request.cookies.get(ACT_AS))


def _back(where: str, note: str | None = None) -> web.HTTPSeeOther:
    """Redirect to a sandbox page (never elsewhere), with a note shown once."""
    if not where.startswith(PREFIX + "/") or where.startswith("//") or "\\" in where:
        where = PREFIX + "/"
    if note:
        where += ("&" if "?" in where else "?") + "note=" + quote(note[:300])
    return web.HTTPSeeOther(where)


async def _form(request: web.Request) -> dict[str, str]:
    # The application that serves the sandbox sets the hard limit; pages need far less.
    if (request.content_length or 0) > MAX_FORM:
        raise web.HTTPRequestEntityTooLarge(MAX_FORM, request.content_length or 0)
    try:
        data = await request.post()
    except web.HTTPException:
        raise
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"malformed form: {exc}") from exc
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _context(request: web.Request, **extra: object) -> dict[str, Any]:
    sandbox = _sandbox(request)
    me = _me(request)
    people = sandbox.registry.people
    return {
        "me": me,
        "people": people,
        "systems": sandbox.registry.systems,
        "channels": sandbox.channels(),
        "listed_on": sandbox.platforms_of(),
        "commands": typing.get_args(Command),
        "dm_counts": {p: sandbox.platform.count(direct_conversation(p)) for p in people},
        "now": sandbox.clock.now(),
        "offset": sandbox.clock.offset,
        "steps": STEPS,
        "tools": samples.TOOLS,
        "version": sandbox.platform.version + sandbox.actions.deliveries.version,
        "note": request.query.get("note", "")[:300],
        "path": request.path_qs.split("?note=")[0].split("&note=")[0],
        "deliveries": len(sandbox.actions.deliveries.items),
        "conversation": None,
        "owner": None,
        **extra,
    }


# ---- pages ------------------------------------------------------------------------------------


async def home(request: web.Request) -> web.StreamResponse:
    """The first channel."""
    raise web.HTTPFound(f"{PREFIX}/c/{quote(_sandbox(request).channels()[0], safe='')}")


async def channel_page(request: web.Request) -> web.StreamResponse:
    """One channel's timeline, the alert poster and the composer."""
    sandbox = _sandbox(request)
    channel = request.match_info["channel"]
    if channel not in sandbox.channels():
        raise web.HTTPNotFound(text=f"No sandbox channel {channel!r}.")
    me = _me(request)
    return page(
        "channel.html",
        _context(
            request,
            conversation=channel,
            title=f"#{channel}",
            timeline=sandbox.platform.timeline(channel, viewer=me),
        ),
    )


async def direct_page(request: web.Request) -> web.StreamResponse:
    """A person's direct messages with the bot."""
    sandbox = _sandbox(request)
    person = request.match_info["person"]
    if person not in sandbox.registry.people:
        raise web.HTTPNotFound(text=f"No person {person!r} in the registry.")
    conversation = direct_conversation(person)
    return page(
        "direct.html",
        _context(
            request,
            conversation=conversation,
            owner=person,
            title=f"Direct messages: {sandbox.registry.people[person].name}",
            timeline=sandbox.platform.timeline(conversation, viewer=person),
        ),
    )


async def actions_page(request: web.Request) -> web.StreamResponse:
    """What the stop and resume actions delivered, and what real ones would receive."""
    sandbox = _sandbox(request)
    return page(
        "actions.html",
        _context(
            request,
            title="Stop actions",
            items=list(sandbox.actions.deliveries.items),
            configured={s.id: (s.stop, s.resume) for s in sandbox.registry.systems.values()},
        ),
    )


async def version(request: web.Request) -> web.StreamResponse:
    """A number that moves whenever a page would show something new (sandbox.js polls it)."""
    sandbox = _sandbox(request)
    number = sandbox.platform.version + sandbox.actions.deliveries.version
    return web.json_response({"version": number}, headers={"Cache-Control": "no-store"})


async def static_file(request: web.Request) -> web.StreamResponse:
    """sandbox.css and sandbox.js."""
    return static(request.match_info["name"])


# ---- actions ----------------------------------------------------------------------------------


async def act_as(request: web.Request) -> web.StreamResponse:
    """Choose the registry person the pages act as."""
    form = await _form(request)
    person = form.get("person", "")
    if person not in _sandbox(request).registry.people:
        raise web.HTTPBadRequest(text="Pick a person from the registry.")
    response = _back(form.get("next", ""))
    response.set_cookie(ACT_AS, person, httponly=True, samesite="Strict", path=PREFIX)
    raise response


async def post_alert(request: web.Request) -> web.StreamResponse:
    """Post a sample alert (or pasted text) into a channel as its tool would."""
    sandbox = _sandbox(request)
    form = await _form(request)
    channel = form.get("channel", "")
    if channel not in sandbox.channels():
        raise web.HTTPBadRequest(text="Unknown channel.")
    pasted = form.get("text", "").strip()
    if pasted:
        sample = samples.pasted(pasted)
    else:
        build_sample = samples.BUILDERS.get(form.get("source", ""))
        status = form.get("status", "firing")
        wanted = form.get("system", "")
        system = sandbox.registry.system(wanted)
        if build_sample is None or status not in ("firing", "resolved"):
            raise web.HTTPBadRequest(text="Pick a tool and firing or resolved.")
        if system is None and wanted != "":
            raise web.HTTPBadRequest(text="Unknown system.")
        sample = build_sample(
            system, "resolved" if status == "resolved" else "firing", sandbox.clock.now()
        )
    note = await sandbox.post_alert(sample, channel=channel)
    raise _back(f"{PREFIX}/c/{quote(channel, safe='')}", note)


async def say(request: web.Request) -> web.StreamResponse:
    """Type in a conversation: a /command or a message."""
    sandbox = _sandbox(request)
    form = await _form(request)
    me = _me(request)
    conversation = form.get("conversation", "")
    if conversation not in sandbox.channels() and conversation != direct_conversation(me):
        raise web.HTTPBadRequest(text="You can type in a channel or your own direct messages.")
    note = await sandbox.say(
        person=me,
        conversation=conversation,
        text=form.get("text", ""),
        thread=form.get("thread") or None,
    )
    raise _back(form.get("next", ""), note)


async def click(request: web.Request) -> web.StreamResponse:
    """Click a button on a card, as the person the pages act as."""
    sandbox = _sandbox(request)
    form = await _form(request)
    target = form.get("target") or None
    if target is not None and target not in sandbox.registry.people:
        raise web.HTTPBadRequest(text="Hand off to a person from the registry.")
    note = await sandbox.click(
        person=_me(request),
        action=form.get("action", "")[:100],
        value=form.get("value", "")[:200],
        message_id=form.get("message", "")[:100],
        target=target,
    )
    raise _back(form.get("next", ""), note)


async def clock(request: web.Request) -> web.StreamResponse:
    """Move the sandbox clock forward (and send what comes due)."""
    form = await _form(request)
    try:
        delta = parse_duration(form.get("by", "")[:20])
        note = await _sandbox(request).advance(delta)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    raise _back(form.get("next", ""), note)


async def scan(request: web.Request) -> web.StreamResponse:
    """Run the stale-ownership scan now."""
    form = await _form(request)
    note = await _sandbox(request).stale_scan()
    raise _back(form.get("next", ""), note)


async def receiver(request: web.Request) -> web.StreamResponse:
    """The stand-in for a stop webhook's receiver: keeps what a real one would receive."""
    body = await request.read()
    taken = _sandbox(request).actions.receive(
        request.match_info["token"], headers=request.headers, body=body
    )
    if not taken:
        raise web.HTTPNotFound(text="No sandbox stop action is waiting for this request.")
    return web.json_response({"received": True})
