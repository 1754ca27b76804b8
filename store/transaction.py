"""One database transaction as the core sees it: a unit of work holding one repository per
aggregate (`tx.alerts`, `tx.steps`, `tx.stops`, `tx.evidence`, `tx.ownership`, `tx.jobs`,
`tx.governance`, `tx.reviews`, and the Teams adapter's `tx.conversations`). Nothing here
commits: the Store does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from store.alerts import SqlAlerts
from store.conversations import SqlConversations
from store.evidence import SqlEvidence
from store.governance import GovernanceRepository
from store.jobs import SqlJobs
from store.ownership import SqlOwnership
from store.reviews import SqlReviews
from store.steps import SqlSteps
from store.stops import SqlStops


class SqlTransaction:
    """Implements bot.storage.Transaction on one AsyncSession."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.alerts = SqlAlerts(session)
        self.steps = SqlSteps(session)
        self.stops = SqlStops(session)
        self.evidence = SqlEvidence(session)
        self.ownership = SqlOwnership(session)
        self.jobs = SqlJobs(session)
        self.conversations = SqlConversations(session)
        self.governance = GovernanceRepository(session)
        self.reviews = SqlReviews(session)

    async def flush(self) -> None:
        """Write what the repositories keep in memory (the audit chain's tip) before commit."""
        await self.evidence.flush()
