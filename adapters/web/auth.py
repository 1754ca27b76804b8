"""Who is looking: console sessions from one-time links, and the loopback-only open mode.

A link is opened with GET (which only shows whose it is, so a chat client's link preview
cannot use it up) and used with POST, which opens a session in the same transaction that
marks the link used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.console_link import new_token, token_hash
from bot.ports import Clock
from bot.registry import Registry
from store.signins import SignIns

from .templating import SECURITY_HEADERS, Pages

COOKIE = "console_session"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_FORWARDING = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@dataclass(frozen=True)
class Viewer:
    """The person looking at a page; `person` is None in the open (loopback) mode."""

    person: str | None
    name: str
    open_mode: bool = False


Handler = Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]


def well_formed(token: str) -> bool:
    """A token as `new_token` makes them: short, URL-safe characters only."""
    return 16 <= len(token) <= 64 and set(token) <= _TOKEN_CHARS


def from_this_machine(request: web.Request) -> bool:
    """True for a loopback peer that is not a proxy passing on someone else's request."""
    if any(h in request.headers for h in _FORWARDING):
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


class Gate:
    """Decides who may see the console and runs the sign-in pages."""

    def __init__(
        self,
        *,
        signins: SignIns,
        clock: Clock,
        registry: Callable[[], Registry],
        pages: Pages,
        open_mode: bool,
        lifetime: timedelta,
        public_url: str,
    ) -> None:
        self.signins = signins
        self.clock = clock
        self.registry = registry
        self.pages = pages
        self.open_mode = open_mode
        self.lifetime = lifetime
        self.secure_cookie = public_url.lower().startswith("https://")

    def _name(self, person: str) -> str:
        found = self.registry().people.get(person)
        return found.name if found else person

    async def _session_person(self, request: web.Request) -> str | None:
        token = request.cookies.get(COOKIE, "")
        if not well_formed(token):
            return None
        person = await self.signins.session_person(
            token_hash=token_hash(token), now=self.clock.now()
        )
        # Someone removed from the registry loses the console with their roles.
        return person if person in self.registry().people else None

    async def viewer(self, request: web.Request) -> Viewer | web.Response:
        """The signed-in viewer, or the page that says why there is none."""
        person = await self._session_person(request)
        if person is not None:
            return Viewer(person, self._name(person))
        if not self.open_mode:
            return self.pages.html("refused.html", status=401, viewer=None, reason="signed-out")
        if from_this_machine(request):
            return Viewer(None, "this machine", open_mode=True)
        return self.pages.html("refused.html", status=403, viewer=None, reason="loopback")

    def guard(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap a page handler: it runs only for a viewer allowed to see the console."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            found = await self.viewer(request)
            if isinstance(found, web.Response):
                return found
            return await handler(request, found)

        return guarded

    # ---- sign-in ------------------------------------------------------------------------------

    async def _link_problem(self, request: web.Request, token: str) -> web.Response | str:
        """The link's person, or the page refusing it (used, expired, unknown, someone
        else's while this browser is signed in as another person)."""
        if not well_formed(token):
            return self._refuse_link("unknown", None)
        state, person = await self.signins.link_state(
            token_hash=token_hash(token), now=self.clock.now()
        )
        if state != "ok" or person is None:
            return self._refuse_link(state, person)
        current = await self._session_person(request)
        if current is not None and current != person:
            return self.pages.html(
                "signin.html",
                status=409,
                viewer=Viewer(current, self._name(current)),
                state="other",
                name=self._name(person),
                token=None,
            )
        return person

    def _refuse_link(self, state: str, person: str | None) -> web.Response:
        status = {"used": 410, "expired": 410}.get(state, 404)
        return self.pages.html(
            "signin.html",
            status=status,
            viewer=None,
            state=state,
            name=self._name(person) if person else None,
            token=None,
        )

    async def show_link(self, request: web.Request) -> web.Response:
        """GET of a sign-in link: say whose it is and offer the button that uses it."""
        token = request.match_info["token"]
        found = await self._link_problem(request, token)
        if isinstance(found, web.Response):
            return found
        return self.pages.html(
            "signin.html", viewer=None, state="ok", name=self._name(found), token=token
        )

    async def use_link(self, request: web.Request) -> web.Response:
        """POST of a sign-in link: use it once and set the session cookie."""
        origin = request.headers.get("Origin")
        if origin is not None and origin not in ("null", f"{request.scheme}://{request.host}"):
            # A page elsewhere may not sign this browser in (login CSRF).
            return self._refuse_link("unknown", None)
        token = request.match_info["token"]
        found = await self._link_problem(request, token)
        if isinstance(found, web.Response):
            return found
        session = new_token()
        state, person = await self.signins.sign_in(
            link_hash=token_hash(token),
            session_hash=token_hash(session),
            now=self.clock.now(),
            lifetime=self.lifetime,
        )
        if state != "ok":
            return self._refuse_link(state, person)
        response = web.HTTPSeeOther("/", headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE,
            session,
            max_age=int(self.lifetime.total_seconds()),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookie or request.secure,
        )
        raise response

    async def sign_out(self, request: web.Request) -> web.Response:
        """End this browser's session."""
        token = request.cookies.get(COOKIE, "")
        if well_formed(token):
            await self.signins.end_session(token_hash=token_hash(token))
        response = self.pages.html("refused.html", viewer=None, reason="signed-out-now")
        response.del_cookie(COOKIE, path="/")
        return response

    def routes(self) -> list[web.RouteDef]:
        """The sign-in and sign-out routes."""
        return [
            web.get("/sign-in/{token}", self.show_link),
            web.post("/sign-in/{token}", self.use_link),
            web.post("/sign-out", self.sign_out),
        ]
