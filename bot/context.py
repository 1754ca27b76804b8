"""What every feature module of the core shares: the registry in force, the store, the chat
platforms, the clock, people, and the few rules several features apply. Feature modules take
a Context, never the service facade (bot.service), so none of them imports its caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import Alert, UserRef
from bot.people import People
from bot.ports import ChatPlatform, Clock, Observer, StopRunner
from bot.registry import Registry, SystemView
from bot.storage import Store


@dataclass
class Context:
    """The core's shared state; `registry` is swapped in place by a reload."""

    registry: Registry
    store: Store
    platforms: Mapping[str, ChatPlatform]
    clock: Clock
    people: People
    observer: Observer
    stop_runner: StopRunner
    worker: str  # this replica's name on leases and job runs
    lease: timedelta  # how long a worker holds a claim post or an escalation step
    batch: int  # how many due steps or unposted claims one pass takes

    def use_registry(self, registry: Registry) -> None:
        """Switch to a reloaded registry; open alerts keep the escalation maps copied onto them."""
        self.registry = registry
        self.people.use(registry)

    def system_of(self, alert: Alert) -> SystemView | None:
        """The registry's view of an alert's system (None for unowned or removed systems)."""
        return self.registry.system(alert.system) if alert.system else None

    def may_act(self, system: SystemView | None, alert: Alert, person: str | None) -> bool:
        """Whether a person may acknowledge, resolve or hand off an alert: its holder, the
        registry's admins, the people named on its system, or anyone where `ack_by: anyone`."""
        if system is not None and system.ack_by == "anyone":
            return True
        if person is None:
            return False
        if person == alert.holder or person in self.registry.admins:
            return True
        return system is not None and person in system.named_people()

    async def record(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        system: str | None,
        alert_id: int | None,
        detail: dict[str, object],
    ) -> None:
        """Append one evidence entry in a transaction of its own."""
        async with self.store.transaction() as tx:
            await tx.evidence.append(
                at=at, actor=actor, action=action, system=system, alert_id=alert_id, detail=detail
            )


def actor_of(person: str | None, user: UserRef) -> str:
    """Who did something, for the record: the registry person, else the platform user id."""
    return person or f"{user.platform}:{user.id}"
