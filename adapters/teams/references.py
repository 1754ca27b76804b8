"""The Teams adapter's port onto stored conversation references and members; the store
implements it (store.references), so the adapter never opens a database session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from store.conversations import TeamsConversation, TeamsMember


class References(Protocol):
    """Where Teams conversation references and members are kept (store.references
    implements it over the database); each call is a short transaction of its own."""

    async def save(
        self,
        *,
        conversation: TeamsConversation | None = None,
        members: Sequence[TeamsMember] = (),
    ) -> None:
        """Insert or refresh a conversation reference and members."""
        ...

    async def conversation(self, *, conversation_id: str) -> TeamsConversation | None:
        """One conversation's reference, or None."""
        ...

    async def personal(self, *, user_aad_id: str) -> TeamsConversation | None:
        """The most recent personal chat with this person."""
        ...

    async def latest(
        self, *, kind: str | None = None, tenant_id: str | None = None
    ) -> TeamsConversation | None:
        """The most recently refreshed reference."""
        ...

    async def of_teams(self) -> list[TeamsConversation]:
        """One channel reference per team the bot is in, newest first."""
        ...

    async def member(self, *, aad_object_id: str) -> TeamsMember | None:
        """A member by Azure AD object id."""
        ...

    async def member_by_email(self, *, email: str) -> TeamsMember | None:
        """A member whose email (or user principal name) is this address."""
        ...
