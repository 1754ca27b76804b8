"""One-time console sign-in links: issued to a person the chat platform has verified, sent by
direct message, good for one use within ten minutes. Only a hash of the token is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot import render
from bot.cards import Card, Reply
from bot.context import Context
from bot.events import CommandGiven
from bot.ports import PlatformError

LINK_LIFETIME = timedelta(minutes=10)
SIGN_IN_PATH = "/sign-in/"


class SignInLinks(Protocol):
    """Where issued links are recorded (by hash) until they are used or expire."""

    async def add_link(
        self, *, token_hash: str, person: str, at: datetime, expires_at: datetime
    ) -> None:
        """Record a link issued to `person`."""
        ...


def token_hash(token: str) -> str:
    """The stored form of a link or session token. Tokens carry 256 random bits, so a fast
    hash is enough: there is nothing to guess."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh URL-safe random token."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedLink:
    """A sign-in link and when it stops working."""

    url: str
    expires_at: datetime


async def issue_link(
    *, links: SignInLinks, person: str, now: datetime, public_url: str
) -> IssuedLink:
    """Record a new one-time link for `person` and return it."""
    token = new_token()
    expires_at = now + LINK_LIFETIME
    await links.add_link(token_hash=token_hash(token), person=person, at=now, expires_at=expires_at)
    return IssuedLink(public_url.rstrip("/") + SIGN_IN_PATH + token, expires_at)


def link_card(link: IssuedLink) -> Card:
    """The direct message that carries a sign-in link."""
    return Card(
        title="Your console sign-in link",
        lines=(
            (f"Open {link.url} to sign in to the accountability console.",),
            ("It works once, for 10 minutes. Do not forward it: it signs in as you.",),
        ),
        link=link.url,
    )


class ConsoleDesk:
    """Answers `console` (`/accountability console` in Slack, `console` in Teams): a one-time
    sign-in link, sent by direct message to the platform user who asked. Who that is comes
    from the platform's verified user id, never from what the command says."""

    def __init__(self, context: Context, *, links: SignInLinks | None, public_url: str) -> None:
        self.context = context
        self.links = links
        self.public_url = public_url

    async def command(self, event: CommandGiven) -> Reply:
        """Send the asker a link, and say where it went."""
        if self.links is None:
            return Reply(render.notice("No console", "This bot does not serve the console."))
        person = await self.context.people.person(event.user)
        if person is None:
            return Reply(
                render.notice(
                    "No console link",
                    "The console is for people named in the ownership registry, and your "
                    "account is not linked to anyone there. Ask a registry admin to add you.",
                    tone="warning",
                )
            )
        platform = self.context.platforms.get(event.user.platform)
        if platform is None:
            return Reply(render.notice("No console link", "This platform is not connected."))
        now = self.context.clock.now()
        link = await issue_link(
            links=self.links, person=person, now=now, public_url=self.public_url
        )
        try:
            await platform.direct(user=event.user, card=link_card(link))
        except PlatformError:
            return Reply(
                render.notice(
                    "No console link",
                    "I could not send you a direct message. Ask again in a minute.",
                    tone="warning",
                )
            )
        await self.context.record(
            at=now,
            actor=person,
            action="console.link_sent",
            system=None,
            alert_id=None,
            detail={"platform": event.user.platform, "expires_at": render.when(link.expires_at)},
        )
        return Reply(
            render.notice(
                "Check your direct messages",
                "I sent you a sign-in link for the console. It works once, for 10 minutes.",
                tone="ok",
            )
        )
