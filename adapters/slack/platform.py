"""SlackPlatform: bot.ports.ChatPlatform on slack_sdk's AsyncWebClient.

Rate limits are handled here so the core never sees them: every call retries HTTP 429 after
the `Retry-After` Slack sends, and posts to one channel are paced (Slack allows about one
message per second per channel) so a burst of alerts queues instead of being refused.
User lookups are cached because every claim, click and escalation asks them again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.ratelimit import RateLimits
from adapters.slack import blocks, tags
from adapters.slack.translate import Identity
from bot.cards import Card
from bot.domain import MessageRef, UserRef
from bot.ports import ClaimTag, PlatformError, Unreachable

log = logging.getLogger(__name__)

SLACK_API = "https://slack.com/api/"


class SlackCallError(PlatformError):
    """A Slack Web API call failed; `error` is Slack's error code (`users_not_found`, …)."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__(f"slack {what} failed: {error}")
        self.error = error


class SlackUnreachable(SlackCallError, Unreachable):
    """Slack's definite "cannot reach this person or channel"."""


# Slack's answers that retrying cannot change; every other failure is passing.
DEFINITE = frozenset(
    {
        "user_not_found",
        "users_not_found",
        "user_disabled",
        "account_inactive",
        "cannot_dm_bot",
        "messages_tab_disabled",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
    }
)


def _retry_after(response: HttpResponse) -> float:
    for key, values in response.headers.items():
        if key.lower() == "retry-after" and values:
            try:
                return float(values[0])
            except ValueError:
                break
    return 1.0


class _PolicyRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleeps `Retry-After`, then retries) under the shared policy:
    every 429 counted, no wait past the call's budget."""

    def __init__(self, *, max_retry_count: int, limits: RateLimits) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._limits = limits

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        """Retry a 429 while the budget allows (the last 429 is counted too)."""
        if response is None or response.status_code != 429:
            return False
        if state.current_attempt >= self.max_retry_count:
            self._limits.count()
            return False
        return self._limits.limited(wait=_retry_after(response), what=_method(request))


def _method(request: HttpRequest) -> str:
    # Only the Web API method name: a response_url's path is a credential.
    return request.url.rsplit("/", 1)[-1] if "/api/" in request.url else "response_url"


class _Pacer:
    """At most one post per `interval` seconds per channel, in arrival order."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._next: dict[str, float] = {}

    @asynccontextmanager
    async def slot(
        self, channel: str, *, what: str, deadline: float | None = None
    ) -> AsyncIterator[None]:
        """Hold the channel's turn for one call; SlackCallError("queued_too_long") when the
        turn would come after `deadline`."""
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(channel, asyncio.Lock())
        try:
            async with asyncio.timeout_at(deadline):
                await lock.acquire()
        except TimeoutError as exc:
            raise SlackCallError(what, "queued_too_long") from exc
        try:
            wait = self._next.get(channel, 0.0) - loop.time()
            if wait > 0:
                if deadline is not None and loop.time() + wait > deadline:
                    raise SlackCallError(what, "queued_too_long")
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._next[channel] = loop.time() + self.interval
        finally:
            lock.release()


@dataclass
class _Cached:
    value: Any
    until: float


MISS_TTL = 300.0  # "no such user" is remembered briefly: people join


class _TtlCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, _Cached] = {}

    def get(self, key: str) -> _Cached | None:
        item = self._items.get(key)
        if item is None or item.until < time.monotonic():
            self._items.pop(key, None)
            return None
        return item

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        self._items[key] = _Cached(value, time.monotonic() + (self.ttl if ttl is None else ttl))


class SlackPlatform:
    """Implements bot.ports.ChatPlatform for one Slack workspace (one bot token)."""

    name = "slack"

    def __init__(
        self,
        *,
        token: str,
        base_url: str | None = None,
        post_interval: float = 1.0,
        call_budget: float | None = 10.0,
        rate_limit_retries: int = 10,
        user_cache_ttl: float = 3600.0,
        on_rate_limited: Callable[[], None] | None = None,
    ) -> None:
        base = base_url or SLACK_API
        # How long one call may wait for its channel's turn and for Retry-After: see
        # adapters.ratelimit (shorter than the core's lease, so nothing is sent twice).
        self.limits = RateLimits(platform=self.name, budget=call_budget, on_limited=on_rate_limited)
        self._retry_handlers: list[AsyncRetryHandler] = [
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            _PolicyRateLimitRetry(max_retry_count=rate_limit_retries, limits=self.limits),
        ]
        self.client = AsyncWebClient(
            token=token,
            base_url=base if base.endswith("/") else base + "/",
            timeout=10,
            retry_handlers=self._retry_handlers,
        )
        self.pacer = _Pacer(post_interval)
        self._dm_channels: dict[str, str] = {}
        self._by_email = _TtlCache(user_cache_ttl)
        self._users = _TtlCache(min(user_cache_ttl, 600.0))
        self._identity: Identity | None = None

    # ---- plumbing ----------------------------------------------------------------------------

    @property
    def call_budget(self) -> float | None:
        """Seconds one call may wait for its turn and for Retry-After."""
        return self.limits.budget

    @call_budget.setter
    def call_budget(self, seconds: float | None) -> None:
        self.limits.budget = seconds

    @asynccontextmanager
    async def _call(self, what: str, channel: str | None = None) -> AsyncIterator[None]:
        """One Web API call within the budget, paced when it posts to a channel."""
        with self.limits.call() as deadline:
            if channel is None:
                async with self._errors(what):
                    yield
            else:
                async with (
                    self.pacer.slot(channel, what=what, deadline=deadline),
                    self._errors(what),
                ):
                    yield

    @asynccontextmanager
    async def _errors(self, what: str) -> AsyncIterator[None]:
        """Slack and network failures become PlatformError (after slack_sdk's retries)."""
        try:
            yield
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown") if exc.response is not None else "unknown"
            kind = SlackUnreachable if error in DEFINITE else SlackCallError
            raise kind(what, str(error)) from exc
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise SlackCallError(what, exc.__class__.__name__) from exc

    def known_identity(self) -> Identity | None:
        """The identity if auth.test has answered already (no I/O)."""
        return self._identity

    async def identity(self) -> Identity:
        """The bot's own user id, bot id and workspace URL (auth.test, asked once)."""
        if self._identity is None:
            async with self._call("auth.test"):
                found = await self.client.auth_test()
            self._identity = Identity(
                user_id=found.get("user_id"), bot_id=found.get("bot_id"), url=found.get("url")
            )
        return self._identity

    # ---- bot.ports.ChatPlatform (and TaggedPosts) ------------------------------------------------

    async def post(
        self, *, channel: str, card: Card, thread: str | None = None, tag: ClaimTag | None = None
    ) -> MessageRef:
        """Post a card (in `thread` if given), paced per channel; a claim's `tag` as metadata."""
        args = blocks.message_args(card)
        if tag is not None:
            args["metadata"] = tags.metadata(tag)
        async with self._call("chat.postMessage", channel):
            sent = await self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread,
                unfurl_links=False,
                unfurl_media=False,
                **args,
            )
        return MessageRef(self.name, str(sent["channel"]), str(sent["ts"]), thread)

    async def find_tagged(
        self, *, channel: str, thread: str | None, tag: ClaimTag
    ) -> MessageRef | None:
        """This bot's recent claim carrying `tag` (adapters.slack.tags), or None."""
        return await tags.find_claim(self, channel=channel, thread=thread, tag=tag)

    async def update(self, *, message: MessageRef, card: Card) -> None:
        """Replace a message the bot posted (chat.update)."""
        args = blocks.message_args(card)
        async with self._call("chat.update", message.channel):
            await self.client.chat_update(channel=message.channel, ts=message.id, **args)

    async def direct(self, *, user: UserRef, card: Card) -> MessageRef:
        """Open (or reuse) the direct conversation with a user and post the card there."""
        channel = self._dm_channels.get(user.id)
        if channel is None:
            async with self._call("conversations.open"):
                opened = await self.client.conversations_open(users=user.id)
            channel = str(opened["channel"]["id"])
            self._dm_channels[user.id] = channel
        return await self.post(channel=channel, card=card)

    async def find_user(self, *, email: str) -> UserRef | None:
        """users.lookupByEmail, cached (misses for a shorter time: people join)."""
        key = email.strip().lower()
        cached = self._by_email.get(key)
        if cached is not None:
            return UserRef(self.name, cached.value) if cached.value else None
        user = await self._fetch_user(
            "users.lookupByEmail",
            "users_not_found",
            lambda: self.client.users_lookupByEmail(email=key),
        )
        user_id = str(user["id"]) if user and user.get("id") else None
        self._by_email.put(key, user_id, ttl=None if user_id else MISS_TTL)
        return UserRef(self.name, user_id) if user_id else None

    async def user_email(self, *, user: UserRef) -> str | None:
        """The email Slack holds for a user id (needs users:read.email), or None."""
        info = await self._user_info(user.id)
        email = (info or {}).get("profile", {}).get("email")
        return str(email) if email else None

    async def user_active(self, *, user: UserRef) -> bool | None:
        """False for a deactivated (`deleted`) user; None when Slack does not know the id."""
        info = await self._user_info(user.id)
        if info is None:
            return None
        return not bool(info.get("deleted"))

    # ---- Slack-only answers (used by adapters.slack.app) -------------------------------------

    async def open_view(self, *, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal for the person whose click carried `trigger_id` (valid 3 s)."""
        async with self._call("views.open"):
            await self.client.views_open(trigger_id=trigger_id, view=view)

    async def post_ephemeral(
        self, *, channel: str, user: str, card: Card, thread: str | None = None
    ) -> None:
        """Show a card to one person in a channel (chat.postEphemeral)."""
        args = blocks.message_args(card)
        async with self._call("chat.postEphemeral", channel):
            await self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread, **args
            )

    async def respond(
        self,
        *,
        response_url: str,
        card: Card,
        ephemeral: bool = True,
        replace_original: bool = False,
    ) -> None:
        """Answer through an interaction's response_url (works where the bot is no member)."""
        hook = AsyncWebhookClient(response_url, timeout=15, retry_handlers=self._retry_handlers)
        body: dict[str, Any] = {**blocks.message_args(card)}
        if replace_original:
            body["replace_original"] = True
        else:
            body["replace_original"] = False
            body["response_type"] = "ephemeral" if ephemeral else "in_channel"
        async with self._call("response_url"):
            answer = await hook.send_dict(body)
        if answer.status_code >= 400:
            raise PlatformError(f"slack response_url answered {answer.status_code}")

    # ---- users ----------------------------------------------------------------------------------

    def _remember_user(self, user: dict[str, Any]) -> None:
        if user.get("id"):
            self._users.put(str(user["id"]), user)

    async def _user_info(self, user_id: str) -> dict[str, Any] | None:
        cached = self._users.get(user_id)
        if cached is not None:
            return cached.value if isinstance(cached.value, dict) else None
        user = await self._fetch_user(
            "users.info", "user_not_found", lambda: self.client.users_info(user=user_id)
        )
        if user is None:
            self._users.put(user_id, False, ttl=MISS_TTL)
        return user

    async def _fetch_user(
        self, method: str, not_found: str, call: Callable[[], Awaitable[Any]]
    ) -> dict[str, Any] | None:
        """One users.* call: the user (remembered by id), or None when Slack has no such
        user. Other errors propagate: a platform that cannot answer is not a 'no'."""
        try:
            async with self._call(method):
                found = await call()
        except SlackCallError as exc:
            if exc.error == not_found:
                return None
            raise
        user = found.get("user")
        if not isinstance(user, dict):
            return None
        self._remember_user(user)
        return user
