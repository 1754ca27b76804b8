"""The Teams adapter's port onto stored conversation references (adapters.teams.platform's
`References`): each call is one short transaction of its own, so the adapter never holds a
session, and a platform call never runs inside a transaction."""

from __future__ import annotations

from collections.abc import Sequence

from store.conversations import TeamsConversation, TeamsMember
from store.database import SqlStore


class StoredReferences:
    """Conversation references and members kept in the bot's database."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    async def save(
        self,
        *,
        conversation: TeamsConversation | None = None,
        members: Sequence[TeamsMember] = (),
    ) -> None:
        """Insert or refresh a conversation reference and members, together."""
        async with self.store.transaction() as tx:
            if conversation is not None:
                await tx.conversations.save(conversation=conversation)
            for member in members:
                await tx.conversations.save_member(member=member)

    async def conversation(self, *, conversation_id: str) -> TeamsConversation | None:
        """The reference of one conversation, or None when the bot never heard from it."""
        async with self.store.transaction() as tx:
            return await tx.conversations.get(conversation_id=conversation_id)

    async def personal(self, *, user_aad_id: str) -> TeamsConversation | None:
        """The most recent personal chat between the bot and this person."""
        async with self.store.transaction() as tx:
            return await tx.conversations.personal(user_aad_id=user_aad_id)

    async def latest(
        self, *, kind: str | None = None, tenant_id: str | None = None
    ) -> TeamsConversation | None:
        """The most recently refreshed reference (a source of service URL, tenant and bot id)."""
        async with self.store.transaction() as tx:
            return await tx.conversations.latest(kind=kind, tenant_id=tenant_id)

    async def of_teams(self) -> list[TeamsConversation]:
        """One channel reference per team the bot is in, newest first."""
        async with self.store.transaction() as tx:
            return await tx.conversations.of_teams()

    async def member(self, *, aad_object_id: str) -> TeamsMember | None:
        """A member by Azure AD object id."""
        async with self.store.transaction() as tx:
            return await tx.conversations.member(aad_object_id=aad_object_id)

    async def member_by_email(self, *, email: str) -> TeamsMember | None:
        """A member whose email (or user principal name) is this address."""
        async with self.store.transaction() as tx:
            return await tx.conversations.member_by_email(email=email)
