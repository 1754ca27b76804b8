"""alert.integration: the bot or app that posted a firing alert, so that only it (or an
integration the registry allows) may resolve the alert

Revision ID: 0007_alert_integration
Revises: 0006_governance
Create Date: 2026-12-02 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_alert_integration"
down_revision: str | None = "0006_governance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("integration", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("integration")
