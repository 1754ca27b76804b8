"""The hash chain behind the audit log: each entry commits to the one before it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.domain import AuditEntry

GENESIS = "0" * 64


def canonical_time(at: datetime) -> str:
    """UTC, microseconds, no offset ambiguity: the same instant always hashes the same."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    system: str | None,
    alert_id: int | None,
    detail: dict[str, object],
) -> str:
    """SHA-256 over the previous hash and this entry's canonical JSON."""
    body = json.dumps(
        {
            "seq": seq,
            "at": canonical_time(at),
            "actor": actor,
            "action": action,
            "system": system,
            "alert_id": alert_id,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """The first entry that does not fit the chain, and why."""

    seq: int
    reason: str


def verify_chain(entries: Iterable[AuditEntry]) -> ChainBreak | None:
    """Walk the whole log; report the first edited, inserted or deleted entry."""
    prev = GENESIS
    expected_seq = 1
    for e in entries:
        if e.seq != expected_seq:
            return ChainBreak(expected_seq, f"entry {expected_seq} is missing (next is {e.seq})")
        if e.prev_hash != prev:
            return ChainBreak(e.seq, "does not link to the entry before it")
        computed = entry_hash(
            prev_hash=prev,
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            system=e.system,
            alert_id=e.alert_id,
            detail=e.detail,
        )
        if computed != e.hash:
            return ChainBreak(e.seq, "content does not match its hash (edited)")
        prev = e.hash
        expected_seq += 1
    return None
