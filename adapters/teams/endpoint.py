"""`POST /api/messages`: authentication, bounds and tenant pinning in front of TeamsBot.

The route exists only when Teams is configured (TEAMS_APP_ID, or the explicit
TEAMS_DEV_ANONYMOUS=1 development mode). See TeamsEndpoint for the order of the checks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from adapters.inbound import Malformed, load_json
from adapters.teams import translate
from adapters.teams.auth import TeamsConnection, channel_identity
from adapters.teams.bot import TEAMS_BOT, StorageUnavailable, TeamsBot
from bot.domain import UserRef

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)

ROUTE = "/api/messages"

ANONYMOUS_WARNING = (
    "TEAMS_DEV_ANONYMOUS=1 and TEAMS_APP_ID is not set: POST /api/messages accepts "
    "UNAUTHENTICATED Bot Framework activities, only from this machine and only with a serviceUrl "
    "on this machine (local development, e.g. the Bot Framework Emulator); nobody is identified, "
    "so nobody may stop a system or acknowledge an alert. Set TEAMS_APP_ID, TEAMS_APP_PASSWORD "
    "and TEAMS_APP_TENANT_ID before connecting Microsoft Teams."
)
# Activities are small (Teams caps a message near 28 KB); this leaves room for cards.
MAX_ACTIVITY = 512 * 1024
# The platform of users nobody authenticated: no registry person is ever found for them.
UNVERIFIED = "teams-unverified"



def _from_this_machine(request: web.Request) -> bool:
    forwarded = any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP"))
    try:
        address = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback and not forwarded


def _loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _tenant(raw: dict[str, Any]) -> str:
    conversation = raw.get("conversation") or {}
    data = raw.get("channelData") or {}
    tenant = (data.get("tenant") if isinstance(data, dict) else None) or {}
    found = (conversation.get("tenantId") if isinstance(conversation, dict) else None) or (
        tenant.get("id") if isinstance(tenant, dict) else None
    )
    return found.lower() if isinstance(found, str) else ""


class TeamsEndpoint:
    """The aiohttp handler of POST /api/messages.

    Order matters: the token is checked from the header alone before the body is read; the
    body is read up to MAX_ACTIVITY bytes and parsed with bounded nesting; the activity's
    serviceUrl must be the one the token was issued for and its tenant a pinned one; only
    then does botbuilder see it. In development mode (TEAMS_DEV_ANONYMOUS=1, no app id) the
    caller and the serviceUrl must both be this machine, and nobody is identified.
    """

    def __init__(
        self, *, adapter: CloudAdapter, auth: Any, bot: TeamsBot, connection: TeamsConnection
    ) -> None:
        self.adapter = adapter
        self.auth = auth
        self.bot = bot
        self.app_id: str = connection.app_id
        self.dev_anonymous: bool = connection.dev_anonymous
        self.tenants: frozenset[str] = connection.tenants

    async def _identity(self, request: web.Request) -> tuple[Any, web.Response | None]:
        """The token's claims (None in development mode), or the refusal to answer."""
        if self.dev_anonymous:
            if not _from_this_machine(request):
                return None, _refuse(401, "anonymous activities are taken only from this machine")
            return None, None
        header = request.headers.get("Authorization")
        if not header:
            return None, _refuse(401, "missing Bot Framework token")
        try:
            return await channel_identity(self.auth, header), None
        except Exception as exc:
            log.warning("rejected a Teams request: %s: %s", exc.__class__.__name__, exc)
            return None, _refuse(401, "invalid Bot Framework token")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Authenticate, check, and process one activity."""
        if request.content_type != "application/json":
            return _refuse(415, "send the activity as application/json")
        identity, refused = await self._identity(request)
        if refused is not None:
            return refused
        if request.content_length is not None and request.content_length > MAX_ACTIVITY:
            return _refuse(413, f"an activity is at most {MAX_ACTIVITY} bytes")
        try:
            body = await request.content.read(MAX_ACTIVITY + 1)
        except Exception:
            return _refuse(400, "the body could not be read")
        if len(body) > MAX_ACTIVITY:
            return _refuse(413, f"an activity is at most {MAX_ACTIVITY} bytes")
        try:
            raw = load_json(body)
        except Malformed as exc:
            return _refuse(400, f"the body is {exc}")
        if not isinstance(raw, dict):
            return _refuse(400, "the body must be a JSON object (an activity)")
        service_url = raw.get("serviceUrl")
        if not isinstance(service_url, str):
            return _refuse(400, "`serviceUrl` is required")
        if identity is not None:
            if service_url != identity.get_claim_value("serviceurl"):
                return _refuse(401, "the token was not issued for this serviceUrl")
            if _tenant(raw) not in self.tenants:
                log.warning("refused a Teams activity from a tenant that is not pinned")
                return _refuse(403, "this tenant is not allowed to use the bot")
        elif not _loopback_url(service_url):
            return _refuse(403, "in development mode the serviceUrl must be this machine")
        try:
            activity = Activity().deserialize(raw)
        except Exception:
            return _refuse(400, "the body is not a Bot Framework activity")
        header = None if self.dev_anonymous else request.headers.get("Authorization")
        try:
            # botbuilder's own check again (now with the activity): it also binds serviceUrl.
            authenticated = await self._authenticate(activity, header)
        except Exception as exc:
            log.warning("rejected a Teams request: %s: %s", exc.__class__.__name__, exc)
            return _refuse(401, "invalid Bot Framework token")
        try:
            inbound = translate.parse_activity(raw)
        except translate.BadActivity as exc:
            return _refuse(400, str(exc))
        if self.dev_anonymous and inbound.user is not None:
            # Nobody is who an unauthenticated body says: no stop authority, no acknowledgement.
            inbound = dataclasses.replace(inbound, user=UserRef(UNVERIFIED, inbound.user.id))

        async def logic(turn_context: TurnContext) -> None:
            await self.bot.handle(turn_context, inbound=inbound, raw=raw)

        try:
            answer = await self.adapter.process_activity(authenticated, activity, logic)
        except translate.BadActivity as exc:
            return _refuse(400, str(exc))
        except StorageUnavailable:
            log.exception("teams activity not taken: storage failed")
            return _refuse(503, "storage unavailable; deliver again later")
        except Exception:
            log.exception("teams activity failed", extra={"activity_type": inbound.type})
            return _refuse(500, "internal error")
        if answer is not None:
            return web.json_response(answer.body, status=int(answer.status or 200))
        return web.Response(status=200)

    async def _authenticate(self, activity: Activity, header: str | None) -> Any:
        if header is None:
            return await self.auth.authenticate_request(activity, None)
        return await asyncio.to_thread(
            asyncio.run, self.auth.authenticate_request(activity, header)
        )



def mount(app: web.Application, runtime: Runtime) -> None:
    """Register `POST /api/messages` for the runtime's Teams connection."""
    teams = runtime.teams
    if teams is None:
        return
    bot = TeamsBot(runtime=runtime, platform=teams.platform)
    app[TEAMS_BOT] = bot
    endpoint = TeamsEndpoint(adapter=teams.adapter, auth=teams.auth, bot=bot, connection=teams)
    app.router.add_post(ROUTE, endpoint.handle)
    if teams.dev_anonymous:
        log.warning(ANONYMOUS_WARNING)
