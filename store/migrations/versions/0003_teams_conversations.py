"""teams_conversation, teams_member: Teams conversation references and member details

Revision ID: 0003_teams_conversations
Revises: 0001
Create Date: 2026-11-22 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_teams_conversations"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_conversation",
        sa.Column("conversation_id", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("service_url", sa.String(length=1000), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("team_id", sa.String(length=400), nullable=True),
        sa.Column("bot_id", sa.String(length=255), nullable=False),
        sa.Column("bot_name", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("user_aad_id", sa.String(length=64), nullable=True),
        sa.Column("user_name", sa.String(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    with op.batch_alter_table("teams_conversation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_conversation_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_teams_conversation_user_aad_id"), ["user_aad_id"], unique=False
        )

    op.create_table(
        "teams_member",
        sa.Column("aad_object_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("upn", sa.String(length=320), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("conversation_id", sa.String(length=400), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("aad_object_id"),
    )
    with op.batch_alter_table("teams_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_member_email"), ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("teams_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_member_email"))
    op.drop_table("teams_member")
    with op.batch_alter_table("teams_conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_conversation_user_aad_id"))
        batch_op.drop_index(batch_op.f("ix_teams_conversation_kind"))
    op.drop_table("teams_conversation")
