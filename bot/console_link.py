"""One-time console sign-in links: issued to a person the chat platform has verified, sent by
direct message, good for one use within ten minutes. Only a hash of the token is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.cards import Card

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


def not_in_registry_card() -> Card:
    """The answer to someone the registry does not name."""
    return Card(
        title="No console link",
        lines=(
            (
                "The console is for people named in the ownership registry, and your account "
                "is not linked to anyone there. Ask a registry admin to add you.",
            ),
        ),
        tone="warning",
    )
