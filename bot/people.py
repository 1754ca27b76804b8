"""Registry people <-> platform users, resolved by id or email and cached."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.cards import Card, Mention
from bot.domain import UserRef
from bot.ports import ChatPlatform, Clock, PlatformError
from bot.registry import Registry

log = logging.getLogger(__name__)

MISS_FOR = timedelta(minutes=1)


class People:
    """Finds the platform user of a person and the person behind a platform user.

    Authorization rests on the platform user id: a registry id wins, else the email the
    platform reports for that id must equal the person's email.
    """

    def __init__(
        self,
        *,
        registry: Registry,
        platforms: Mapping[str, ChatPlatform],
        clock: Clock | None = None,
        miss_for: timedelta = MISS_FOR,
    ) -> None:
        self._platforms = platforms
        self._users: dict[tuple[str, str], UserRef | None] = {}
        self._people: dict[UserRef, str | None] = {}
        # "Not found" is not definite (Teams learns a roster later, a person joins the
        # workspace): a miss is remembered only until then, found answers until a reload.
        self._clock = clock
        self._miss_for = miss_for
        self._misses: dict[object, datetime] = {}
        self.use(registry)

    def use(self, registry: Registry) -> None:
        """Switch to a new registry; cached lookups are dropped since emails may change."""
        self._registry = registry
        self._users.clear()
        self._people.clear()
        self._misses.clear()
        self._by_email = {p.email.lower(): key for key, p in registry.people.items()}

    def name(self, person: str | None) -> str:
        """A person's display name ("nobody" for None, the key for unknown keys)."""
        if person is None:
            return "nobody"
        found = self._registry.people.get(person)
        return found.name if found else person

    async def user(self, person: str, *, platform: str) -> UserRef | None:
        """The platform user of a registry person, or None when the platform does not know
        them. Raises PlatformError when the platform could not answer (nothing is cached)."""
        key = (person, platform)
        if key in self._users and not self._expired(key, self._users):
            return self._users[key]
        spec = self._registry.people.get(person)
        found: UserRef | None = None
        if spec is not None:
            static = getattr(spec, platform, None) if platform in ("slack", "teams") else None
            if static:
                found = UserRef(platform, static)
            elif (chat := self._platforms.get(platform)) is not None:
                found = await chat.find_user(email=spec.email)
        self._remember(self._users, key, found)
        if found is not None:
            self._people[found] = person
        return found

    async def person(self, user: UserRef) -> str | None:
        """The registry person behind a platform user id, or None. A registry id wins: the
        email match applies only to people with no id on that platform. Raises PlatformError
        when the platform could not answer (nothing is cached)."""
        if user in self._people and not self._expired(user, self._people):
            return self._people[user]
        static = user.platform in ("slack", "teams")
        for key, spec in self._registry.people.items():
            if static and getattr(spec, user.platform) == user.id:
                self._people[user] = key
                return key
        found: str | None = None
        chat = self._platforms.get(user.platform)
        if chat is not None:
            email = await chat.user_email(user=user)
            found = self._by_email.get(email.lower()) if email else None
            if (
                found is not None
                and static
                and getattr(self._registry.people[found], user.platform)
            ):
                found = None  # that person has another id on this platform
        self._remember(self._people, user, found)
        return found

    def _remember(self, cache: dict[Any, Any], key: object, found: object) -> None:
        cache[key] = found
        if found is None and self._clock is not None:
            self._misses[key] = self._clock.now() + self._miss_for

    def _expired(self, key: object, cache: dict[Any, Any]) -> bool:
        until = self._misses.get(key)
        if until is None or self._clock is None or self._clock.now() < until:
            return False
        del self._misses[key]
        cache.pop(key, None)
        return True

    async def mention(self, person: str | None, *, platform: str) -> Mention:
        """A mention of a person for a card on one platform; just the name while the
        platform cannot say who they are (a card is better late-mentioned than not shown)."""
        if person is None:
            return Mention("nobody")
        try:
            user = await self.user(person, platform=platform)
        except PlatformError as exc:
            log.warning("no mention of %s on %s for now: %s", person, platform, exc)
            user = None
        return Mention(self.name(person), user)

    async def deliver(self, *, person: str, card: Card, prefer: Sequence[str] = ()) -> str | None:
        """Send a card to a person directly on the first platform that reaches them
        (`prefer` first); the platform used, or None when none could."""
        order = [p for p in prefer if p in self._platforms]
        order += [p for p in sorted(self._platforms) if p not in order]
        for platform in order:
            try:
                user = await self.user(person, platform=platform)
                if user is None:
                    continue
                await self._platforms[platform].direct(user=user, card=card)
            except PlatformError as exc:
                log.warning("could not reach %s on %s: %s", person, platform, exc)
                continue
            return platform
        return None
