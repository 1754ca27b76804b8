"""Microsoft Teams conversation references and member details.

Teams lets a bot message a person or a channel only in a conversation it already knows (or one
it creates in the tenant, for which it needs the service URL and the bot's own account). So
every conversation the bot hears from is remembered here, together with what the bot learned
about the people in it (their Teams id, and their email once the member API has told it). The
rows are plain strings, not SDK objects, so a move to another Teams SDK keeps the data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, Table, func, select
from sqlmodel import Field, SQLModel

from store.sql import SessionRepository, dialect_insert
from store.tables import UTCDateTime


def _time() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))


class TeamsConversation(SQLModel, table=True):
    """Where the bot can speak: a personal chat, a group chat or a channel, with the service URL
    Teams gave for it. `user_*` name the other party of a personal chat."""

    __tablename__ = "teams_conversation"
    conversation_id: str = Field(primary_key=True, max_length=400)
    kind: str = Field(default="personal", max_length=16, index=True)  # personal|channel|groupChat
    service_url: str = Field(max_length=1000)
    channel_id: str = Field(default="msteams", max_length=32)
    tenant_id: str | None = Field(default=None, max_length=64)
    team_id: str | None = Field(default=None, max_length=400)
    bot_id: str = Field(max_length=255)
    bot_name: str | None = Field(default=None, max_length=255)
    user_id: str | None = Field(default=None, max_length=255)
    user_aad_id: str | None = Field(default=None, max_length=64, index=True)
    user_name: str | None = Field(default=None, max_length=255)
    updated_at: datetime = _time()


class TeamsMember(SQLModel, table=True):
    """A person the bot has seen or looked up, keyed by their Azure AD object id."""

    __tablename__ = "teams_member"
    aad_object_id: str = Field(primary_key=True, max_length=64)
    user_id: str | None = Field(default=None, max_length=255)  # the "29:..." Teams id
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320, index=True)
    upn: str | None = Field(default=None, max_length=320)
    tenant_id: str | None = Field(default=None, max_length=64)
    conversation_id: str | None = Field(default=None, max_length=400)  # where last seen
    updated_at: datetime = _time()


CONVERSATION = cast(Table, TeamsConversation.__table__)  # type: ignore[attr-defined]
MEMBER = cast(Table, TeamsMember.__table__)  # type: ignore[attr-defined]


def _values(row: SQLModel) -> dict[str, Any]:
    return {k: getattr(row, k) for k in type(row).model_fields}


class SqlConversations(SessionRepository):
    """Stored Teams conversation references and members (`tx.conversations`)."""

    async def save(self, *, conversation: TeamsConversation) -> None:
        """Insert or refresh a conversation reference (the service URL may move)."""
        values = _values(conversation)
        stmt = dialect_insert(self.session, CONVERSATION).values(**values)
        keep = {k: v for k, v in values.items() if k != "conversation_id" and v is not None}
        await self.session.execute(
            stmt.on_conflict_do_update(index_elements=["conversation_id"], set_=keep)
        )

    async def get(self, *, conversation_id: str) -> TeamsConversation | None:
        """The reference of one conversation, or None when the bot never heard from it."""
        return await self.session.get(TeamsConversation, conversation_id)

    async def personal(self, *, user_aad_id: str) -> TeamsConversation | None:
        """The most recent personal chat between the bot and this person."""
        query = (
            select(TeamsConversation)
            .where(
                CONVERSATION.c.kind == "personal",
                CONVERSATION.c.user_aad_id == user_aad_id,
            )
            .order_by(CONVERSATION.c.updated_at.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalars().first()

    async def latest(
        self, *, kind: str | None = None, tenant_id: str | None = None
    ) -> TeamsConversation | None:
        """The most recently refreshed reference (a source of service URL, tenant and bot id)."""
        query = select(TeamsConversation)
        if kind is not None:
            query = query.where(CONVERSATION.c.kind == kind)
        if tenant_id is not None:
            query = query.where(CONVERSATION.c.tenant_id == tenant_id)
        query = query.order_by(CONVERSATION.c.updated_at.desc()).limit(1)
        return (await self.session.execute(query)).scalars().first()

    async def of_teams(self) -> list[TeamsConversation]:
        """One channel reference per team the bot is in, newest first."""
        rows = (
            (
                await self.session.execute(
                    select(TeamsConversation)
                    .where(CONVERSATION.c.team_id.is_not(None))
                    .order_by(CONVERSATION.c.updated_at.desc())
                )
            )
            .scalars()
            .all()
        )
        seen: set[str] = set()
        found: list[TeamsConversation] = []
        for row in rows:
            if row.team_id and row.team_id not in seen:
                seen.add(row.team_id)
                found.append(row)
        return found

    async def save_member(self, *, member: TeamsMember) -> None:
        """Insert or refresh a member; fields the new sighting does not know are kept."""
        values = _values(member)
        if values.get("email"):
            values["email"] = values["email"].lower()
        stmt = dialect_insert(self.session, MEMBER).values(**values)
        keep = {k: v for k, v in values.items() if k != "aad_object_id" and v is not None}
        await self.session.execute(
            stmt.on_conflict_do_update(index_elements=["aad_object_id"], set_=keep)
        )

    async def member(self, *, aad_object_id: str) -> TeamsMember | None:
        """A member by Azure AD object id."""
        return await self.session.get(TeamsMember, aad_object_id)

    async def member_by_email(self, *, email: str) -> TeamsMember | None:
        """A member whose email (or user principal name) is this address."""
        address = email.lower()
        query = (
            select(TeamsMember)
            .where((MEMBER.c.email == address) | (func.lower(MEMBER.c.upn) == address))
            .order_by(MEMBER.c.updated_at.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalars().first()
