"""HTTP alert intake: `POST /alerts/alertmanager`, `POST /alerts/grafana` and `POST /alerts`.

An alert that arrives over HTTP has no chat message, so the bot posts the claim itself: in the
first channel of the alert's system on a configured platform (the system's other channels get a
pointer), or, for an alert no system owns, in the first watched channel, held by its fallback
owner. The answer comes only after every alert of the delivery is stored, so a sender that sees
an error delivers again, and a retried delivery is taken once.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.intake_formats import (
    IncomingAlert,
    PayloadError,
    decode,
    parse_alertmanager,
    parse_generic,
    parse_grafana,
)
from bot.commands import close_matches
from bot.domain import AlertTaken
from bot.events import AlertSeen
from bot.matching import match_system
from bot.registry import ChannelId, Registry, SystemView

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
PATHS = ("/alerts/alertmanager", "/alerts/grafana", "/alerts")
# Not a channel of any system, so matching gives no system a head start.
_NOWHERE = ChannelId("http", "intake")

Parser = Callable[[Any], list[IncomingAlert]]


class BodyTooLarge(Exception):
    """The request body is over MAX_BODY."""


@dataclass(frozen=True)
class Route:
    """Where one alert goes: its system (None: unowned), the channel of its claim, the other
    channels of its system that get a pointer, and anything the sender should be told."""

    system: SystemView | None
    channel: ChannelId
    also: tuple[ChannelId, ...] = ()
    note: str | None = None


def route(registry: Registry, alert: IncomingAlert, *, platforms: Collection[str]) -> Route | None:
    """Choose the system and the channel of an alert; None when no channel can be posted on."""
    notes: list[str] = []
    system = registry.system(alert.system) if alert.system else None
    if alert.system and system is None:
        near = close_matches(alert.system, sorted(registry.systems))
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        notes.append(f"system {alert.system!r} is not in the registry{hint}")
    if system is None:
        system = match_system(registry, channel=_NOWHERE, text=alert.text)
    watched = [c.channel for c in registry.channels if c.channel.platform in platforms]
    if system is not None:
        own = [c for c in system.channels if c.platform in platforms]
        if own:
            return Route(system, own[0], tuple(own[1:]), _join(notes))
        if watched:
            notes.append(
                f"{system.id} lists no channel on a configured platform; "
                f"claimed in the first watched channel, {_name(watched[0])}"
            )
            return Route(system, watched[0], (), _join(notes))
        return None
    if watched:
        fallback = registry.fallback_for(watched[0])
        if fallback is not None:
            holder = registry.people[fallback].name
            notes.append(
                "no system matched: stored as unowned and posted to the fallback owner of "
                f"{_name(watched[0])}, {holder}"
            )
        else:
            notes.append(
                f"no system matched and {_name(watched[0])} has no fallback owner: "
                "stored as unowned, posted saying nobody owns it"
            )
        return Route(None, watched[0], (), _join(notes))
    anywhere = [c for s in registry.systems.values() for c in s.channels if c.platform in platforms]
    if anywhere:
        notes.append(
            "no system matched and the registry watches no channel with a fallback owner: "
            f"stored as unowned, posted in {_name(anywhere[0])} saying nobody owns it"
        )
        return Route(None, anywhere[0], (), _join(notes))
    return None


def _name(channel: ChannelId) -> str:
    return f"{channel.platform}:{channel.id}"


def _join(notes: list[str]) -> str | None:
    return "; ".join(notes) or None


class Intake:
    """The request handlers, sharing the runtime and the token."""

    def __init__(self, runtime: Runtime, token: str) -> None:
        self.runtime = runtime
        self._token = token.encode()

    async def alertmanager(self, request: web.Request) -> web.Response:
        """Prometheus Alertmanager webhook (version 4)."""
        return await self._take(request, parse_alertmanager)

    async def grafana(self, request: web.Request) -> web.Response:
        """Grafana unified alerting webhook."""
        return await self._take(request, parse_grafana)

    async def generic(self, request: web.Request) -> web.Response:
        """The bot's own JSON format."""
        return await self._take(request, parse_generic)

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            given = ""
        # Header bytes that are not UTF-8 arrive surrogate-escaped: compare them as sent.
        return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), self._token)

    async def _take(self, request: web.Request, parse: Parser) -> web.Response:
        if not self._authorized(request):
            log.warning(
                "alert intake refused a request without the right bearer token",
                extra={"path": request.path, "remote": request.remote},
            )
            return web.json_response(
                {"error": "missing or wrong bearer token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="alerts"'},
            )
        try:
            alerts = parse(decode(await _read(request)))
        except BodyTooLarge:
            return web.json_response(
                {"error": f"the body is larger than {MAX_BODY} bytes"}, status=413
            )
        except PayloadError as exc:
            return web.json_response(
                {"error": f"{exc.field}: {exc.reason}", "field": exc.field, "errors": exc.errors},
                status=400,
            )
        registry = self.runtime.registry
        platforms = set(self.runtime.platforms)
        routes = [route(registry, a, platforms=platforms) for a in alerts]
        if any(r is None for r in routes):
            log.error(
                "alert intake cannot place an alert: no configured chat platform has a channel",
                extra={"platforms": sorted(platforms)},
            )
            return web.json_response(
                {
                    "error": "no channel on a configured chat platform to post the claim in; "
                    "nothing was stored, deliver again once Slack or Teams is configured"
                },
                status=503,
            )
        placed = [(a, r) for a, r in zip(alerts, routes, strict=True) if r is not None]
        service = self.runtime.service
        # Each alert is stored on its own: one that fails never costs the others of its group.
        taken: list[AlertTaken | None] = []
        for alert, where in placed:
            try:
                taken.append(await service.take_alert(_event(alert, where)))
            except Exception:
                # Not acknowledged: the sender delivers again; what was stored is deduplicated.
                log.exception(
                    "alert intake could not store an alert", extra={"source": alert.source}
                )
                taken.append(None)
        results = [
            await self._publish(alert, where, done)
            if done is not None
            else {"outcome": "failed", "title": alert.title, "channel": _name(where.channel)}
            for (alert, where), done in zip(placed, taken, strict=True)
        ]
        failed = sum(done is None for done in taken)
        log.info(
            "alerts taken over HTTP",
            extra={
                "source": alerts[0].source,
                "outcomes": [r["outcome"] for r in results],
                "failed": failed,
            },
        )
        if failed:
            return web.json_response(
                {"error": "storage failed; deliver again", "alerts": results}, status=503
            )
        return web.json_response({"alerts": results})

    async def _publish(
        self, alert: IncomingAlert, where: Route, taken: AlertTaken
    ) -> dict[str, Any]:
        """Post or update the claim of a stored alert and describe the outcome."""
        service = self.runtime.service
        posted: bool | None = None
        also: list[str] = []
        if taken.alert is not None:
            try:
                await service.publish(taken)
                posted = True
            except Exception:
                # Stored: the scheduler posts the claim once the platform answers again.
                log.exception("claim of alert %s not posted yet", taken.alert.id)
                posted = False
            if taken.outcome == "claimed" and where.also:
                try:
                    reached = await service.point_to_claim(
                        alert_id=taken.alert.id, channels=where.also
                    )
                except Exception:
                    # A pointer is a courtesy: the claim itself is stored and posted.
                    log.exception("could not point other channels at alert %s", taken.alert.id)
                    reached = []
                also = [_name(c) for c in reached]
        system = taken.system or (where.system.id if where.system else None)
        holder = taken.holder
        result: dict[str, Any] = {
            "system": system,
            "outcome": taken.outcome,
            "claimed_for": holder,
            "claimed_for_name": service.people.name(holder) if holder else None,
            "channel": _name(where.channel),
            "title": alert.title,
        }
        if taken.alert is not None:
            result["alert_id"] = taken.alert.id
            result["fingerprint"] = taken.alert.fingerprint
            result["posted"] = posted
        if also:
            result["also_in"] = also
        note = where.note if taken.outcome in ("claimed", "unowned") else _outcome_note(taken)
        if note:
            result["note"] = note
        return result


def _outcome_note(taken: AlertTaken) -> str | None:
    if taken.outcome == "duplicate":
        return "this delivery was already taken; nothing changed"
    if taken.outcome == "ignored":
        return "resolved, but no open alert has this fingerprint; nothing changed"
    if taken.outcome == "repeat" and taken.alert is not None:
        return f"alert {taken.alert.id} is still open: counted as a repeat, not claimed again"
    return None


def _event(alert: IncomingAlert, where: Route) -> AlertSeen:
    delivery = alert.delivery or uuid.uuid4().hex
    return AlertSeen(
        platform=where.channel.platform,
        channel=where.channel.id,
        text=alert.text,
        event_id=f"http:{alert.source}:{delivery}",
        title=alert.title,
        system=where.system.id if where.system else None,
        fingerprint=alert.fingerprint,
        status=alert.status,
        link=alert.link,
        integration="http",  # the bearer token holders: any intake format may resolve
    )


async def _read(request: web.Request) -> bytes:
    """The body, refusing more than MAX_BODY bytes without reading the rest."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise BodyTooLarge
    return bytes(body)


def mount(app: web.Application, runtime: Runtime) -> None:
    """Register the intake routes when ALERT_INGEST_TOKEN is set; otherwise they answer 404."""
    secret = runtime.settings.alert_ingest_token
    token = secret.get_secret_value().strip() if secret is not None else ""
    if not token:
        log.info(
            "alert intake off: ALERT_INGEST_TOKEN is not set, so %s answer 404", ", ".join(PATHS)
        )
        return
    intake = Intake(runtime, token)
    app.router.add_post("/alerts/alertmanager", intake.alertmanager)
    app.router.add_post("/alerts/grafana", intake.grafana)
    app.router.add_post("/alerts", intake.generic)

    async def announce(_: web.Application) -> None:
        if not runtime.platforms:
            log.warning(
                "alert intake on, but no chat platform is configured: alerts are refused (503) "
                "until Slack or Teams is set up"
            )
        else:
            log.info(
                "alert intake on",
                extra={"paths": list(PATHS), "platforms": sorted(runtime.platforms)},
            )

    app.on_startup.append(announce)
