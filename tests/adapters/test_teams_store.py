"""The stored Teams conversation references and members, on SQLite and PostgreSQL, and the
hand-written migration matching the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from store.conversations import TeamsConversation, TeamsMember
from store.database import SqlStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def chat(conversation_id: str, **fields: object) -> TeamsConversation:
    values: dict[str, object] = {
        "conversation_id": conversation_id,
        "kind": "personal",
        "service_url": "https://smba.trafficmanager.net/amer/",
        "tenant_id": "tenant-1",
        "bot_id": "28:bot",
        "updated_at": T0,
    }
    values.update(fields)
    return TeamsConversation(**values)  # type: ignore[arg-type]


async def test_conversations_are_saved_refreshed_and_found(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.conversations.save(
            conversation=chat("a:1", user_aad_id="aad-bob", user_id="29:bob")
        )
        await tx.conversations.save(
            conversation=chat("19:c1@thread.tacv2", kind="channel", team_id="19:t1@thread.tacv2"),
        )
        await tx.conversations.save(
            conversation=chat(
                "19:c2@thread.tacv2",
                kind="channel",
                team_id="19:t1@thread.tacv2",
                updated_at=T0 + timedelta(minutes=1),
            ),
        )
    async with store.transaction() as tx:
        # Teams moved the service URL: the reference follows, the rest is kept.
        await tx.conversations.save(
            conversation=chat(
                "a:1",
                service_url="https://smba.trafficmanager.net/emea/",
                updated_at=T0 + timedelta(minutes=2),
            ),
        )

    async with store.transaction() as tx:
        bob = await tx.conversations.personal(user_aad_id="aad-bob")
        missing = await tx.conversations.get(conversation_id="a:nobody")
        teams = await tx.conversations.of_teams()
        newest_channel = await tx.conversations.latest(kind="channel")
        newest = await tx.conversations.latest(tenant_id="tenant-1")
    assert bob is not None
    assert bob.service_url == "https://smba.trafficmanager.net/emea/"
    assert bob.user_id == "29:bob" and bob.updated_at == T0 + timedelta(minutes=2)
    assert missing is None
    assert [t.conversation_id for t in teams] == ["19:c2@thread.tacv2"]  # one per team
    assert newest_channel is not None and newest_channel.conversation_id == "19:c2@thread.tacv2"
    assert newest is not None and newest.conversation_id == "a:1"


async def test_members_keep_what_was_learned(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.conversations.save_member(
            member=TeamsMember(
                aad_object_id="aad-bob",
                user_id="29:bob",
                email="Bob@Example.com",
                upn="bob@corp.example.com",
                updated_at=T0,
            ),
        )
    async with store.transaction() as tx:
        # A later sighting in a channel knows the name and place, not the email.
        await tx.conversations.save_member(
            member=TeamsMember(
                aad_object_id="aad-bob",
                name="Bob Ruiz",
                conversation_id="19:c1@thread.tacv2",
                updated_at=T0 + timedelta(hours=1),
            ),
        )

    async with store.transaction() as tx:
        bob = await tx.conversations.member(aad_object_id="aad-bob")
        by_email = await tx.conversations.member_by_email(email="BOB@example.com")
        by_upn = await tx.conversations.member_by_email(email="bob@corp.example.com")
        nobody = await tx.conversations.member_by_email(email="eve@example.com")
    assert bob is not None
    assert (bob.email, bob.user_id, bob.name) == ("bob@example.com", "29:bob", "Bob Ruiz")
    assert bob.conversation_id == "19:c1@thread.tacv2"
    assert by_email is not None and by_email.aad_object_id == "aad-bob"
    assert by_upn is not None and by_upn.aad_object_id == "aad-bob"
    assert nobody is None


async def test_the_migration_creates_the_tables_the_models_describe(store: SqlStore) -> None:
    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return [d for d in compare_metadata(context, SQLModel.metadata) if "teams_" in repr(d)]

    async with store.engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_one_dialect_insert_serves_both_databases(store: SqlStore) -> None:
    """store.sql.dialect_insert picks the construct with ON CONFLICT for the session's database;
    the Teams tables and job_run upserts all go through it."""
    from sqlalchemy.dialects import postgresql, sqlite

    from store.conversations import CONVERSATION
    from store.sql import dialect_insert, dialect_name

    async with store.transaction() as tx:
        session = tx.session
        stmt = dialect_insert(session, CONVERSATION)
        name = dialect_name(session)
        expected = postgresql.Insert if name == "postgresql" else sqlite.Insert
        assert name == store.engine.dialect.name
        assert isinstance(stmt, expected)
        values = {"conversation_id": "a:9", "service_url": "https://x/", "bot_id": "28:b"}
        for url in ("https://first/", "https://second/"):
            await session.execute(
                dialect_insert(session, CONVERSATION)
                .values(**{**values, "service_url": url, "updated_at": T0})
                .on_conflict_do_update(
                    index_elements=["conversation_id"], set_={"service_url": url}
                )
            )
        row = await tx.conversations.get(conversation_id="a:9")
    assert row is not None and row.service_url == "https://second/"
