"""inbox_delivery: deliveries recorded by group commit before they are answered

Revision ID: 0004_inbox
Revises: 0003_teams_conversations
Create Date: 2026-12-02 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_inbox"
down_revision: str | None = "0003_teams_conversations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "delivery_id", name="uq_inbox_delivery_key"),
    )
    with op.batch_alter_table("inbox_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_delivery_done", ["done_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbox_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_delivery_done")
    op.drop_table("inbox_delivery")
