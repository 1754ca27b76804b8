"""Bot Framework connector calls under the shared rate-limit policy (adapters.ratelimit):
HTTP 429 waits for Retry-After within the call's budget, connector failures become
PlatformError, and the bot's token is fetched off the event loop. Also: the cards updated
during a click, which the click's invoke answers with."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from botbuilder.core import TurnContext
from msrest.exceptions import ClientRequestError, HttpOperationError

from adapters.ratelimit import RateLimits
from bot.cards import Card
from bot.ports import PlatformError, Unreachable
from store.conversations import TeamsConversation

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RETRY_AFTER = 120.0


def status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(exc: BaseException) -> float:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        seconds = float(headers.get("Retry-After", "1"))
    except (TypeError, ValueError):
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


async def connector_call(call: Callable[[], Awaitable[T]], *, what: str, limits: RateLimits) -> T:
    """Run a connector call under the platform's rate-limit policy (adapters.ratelimit): wait
    out HTTP 429 within the call's budget instead of dropping the message, and turn connector
    failures into PlatformError."""
    with limits.call():
        while True:
            try:
                return await call()
            except HttpOperationError as exc:
                status = status_of(exc)
                if status == 429:
                    await limits.wait_or_fail(wait=_retry_after(exc), what=what)
                    continue
                # 403 (not in the roster, chat blocked) and 404 (no such member or
                # conversation) are definite; 5xx and the rest pass.
                kind = Unreachable if status in (403, 404) else PlatformError
                raise kind(f"Teams refused {what}: HTTP {status}") from exc
            except ClientRequestError as exc:
                raise PlatformError(
                    f"Teams unreachable for {what}: {exc.__class__.__name__}"
                ) from exc
            except PermissionError as exc:  # botbuilder's way of saying Azure AD gave no token
                raise PlatformError(f"no Bot Framework token for {what}: {exc}") from exc


async def warm_token(turn_context: TurnContext) -> None:
    """Fetch the bot's AAD token in a worker thread before the connector needs it: msrest asks
    for it synchronously, which would otherwise block the event loop on a network call."""
    client = turn_context.turn_state.get(turn_context.adapter.BOT_CONNECTOR_CLIENT_KEY)
    credentials = getattr(getattr(client, "config", None), "credentials", None)
    if credentials is None or not getattr(credentials, "microsoft_app_id", None):
        return
    try:
        await asyncio.to_thread(credentials.get_access_token)
    except Exception as exc:  # the call itself will fail and report it
        log.warning("could not get a Bot Framework token: %s", exc.__class__.__name__)


def channel_data(ref: TeamsConversation) -> dict[str, Any]:
    """The channelData of a proactive activity to a stored conversation."""
    data: dict[str, Any] = {}
    if ref.tenant_id:
        data["tenant"] = {"id": ref.tenant_id}
    if ref.team_id:
        data["team"] = {"id": ref.team_id}
    if ref.kind == "channel":
        data["channel"] = {"id": ref.conversation_id}
    return data


# Cards a click handler put in place during the current click, so that the invoke can answer
# with the same card Teams should show the person who clicked.
_UPDATED: ContextVar[list[Card] | None] = ContextVar("teams_updated_cards", default=None)


@contextlib.contextmanager
def capture_updates() -> Iterator[list[Card]]:
    """Collect the cards `TeamsPlatform.update` sends while the block runs (in this task)."""
    found: list[Card] = []
    token = _UPDATED.set(found)
    try:
        yield found
    finally:
        _UPDATED.reset(token)


def record_update(card: Card) -> None:
    """Note a card `TeamsPlatform.update` sent, for a `capture_updates` block running."""
    captured = _UPDATED.get()
    if captured is not None:
        captured.append(card)
