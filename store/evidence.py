"""The hash-chained audit log. Appending locks the chain's tip row (one row, `audit_head`)
for the rest of the transaction, so concurrent writers on any replica extend the chain one
after another; the new tip is written back by `flush` just before commit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import AuditDraft, AuditEntry
from bot.evidence import entry_hash
from store.sql import SessionRepository, table
from store.tables import AuditHeadRow, AuditRow

ENTRIES = table(AuditRow)
HEAD = table(AuditHeadRow)
entry = ENTRIES.c
head = HEAD.c


class SqlEvidence(SessionRepository):
    """Implements bot.storage.Evidence."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # The chain's tip once locked by this transaction; written back by `flush`.
        self._head: tuple[int, str] | None = None
        self._head_moved = False

    async def flush(self) -> None:
        """Write the chain's new tip (kept in memory while appending) before commit."""
        if self._head_moved and self._head is not None:
            seq, digest = self._head
            await self.session.execute(
                update(HEAD).where(head.id == 1).values(seq=seq, hash=digest)
            )
            self._head_moved = False

    async def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        system: str | None,
        alert_id: int | None,
        detail: dict[str, object],
    ) -> AuditEntry:
        """Append one hash-chained entry."""
        (entry,) = await self.append_many(
            entries=[AuditDraft(at, actor, action, system, alert_id, detail)]
        )
        return entry

    async def append_many(self, *, entries: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append entries in order, holding the chain's tip row locked until commit."""
        if not entries:
            return []
        if self._head is None:
            row = (
                await self.session.execute(
                    select(head.seq, head.hash).where(head.id == 1).with_for_update()
                )
            ).one()
            self._head = (row.seq, row.hash)
        out: list[AuditEntry] = []
        for draft in entries:
            detail = json.loads(json.dumps(draft.detail, default=str))
            prev_seq, prev_hash = self._head
            digest = entry_hash(
                prev_hash=prev_hash,
                seq=prev_seq + 1,
                at=draft.at,
                actor=draft.actor,
                action=draft.action,
                system=draft.system,
                alert_id=draft.alert_id,
                detail=detail,
            )
            out.append(
                AuditEntry(
                    prev_seq + 1,
                    draft.at,
                    draft.actor,
                    draft.action,
                    draft.system,
                    draft.alert_id,
                    detail,
                    prev_hash,
                    digest,
                )
            )
            self._head = (prev_seq + 1, digest)
        await self.session.execute(
            insert(ENTRIES),
            [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "system": e.system,
                    "alert_id": e.alert_id,
                    "detail": json.dumps(e.detail, sort_keys=True),
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in out
            ],
        )
        self._head_moved = True
        return out

    async def entries(self, *, system: str | None = None) -> list[AuditEntry]:
        """Evidence in order, optionally for one system."""
        query = select(ENTRIES).order_by(entry.seq)
        if system is not None:
            query = query.where(entry.system == system)
        rows = await self.session.execute(query)
        return [
            AuditEntry(
                r.seq,
                r.at,
                r.actor,
                r.action,
                r.system,
                r.alert_id,
                json.loads(r.detail),
                r.prev_hash,
                r.hash,
            )
            for r in rows
        ]
