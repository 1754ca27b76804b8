"""Alembic environment: runs on the connection handed over by store.database.migrate."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import store.conversations  # registers teams_conversation, teams_member
import store.schedule  # registers job_run
import store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `accountability-bot migrate`")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
