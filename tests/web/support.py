"""The console wired over a real store, data made by the real service, and sign-in helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.actions import ActionRunner
from adapters.fake import InMemoryPlatform, ManualClock
from adapters.web.console import Console, ConsoleConfig
from bot import cards
from bot.console_link import issue_link
from bot.domain import UserRef
from bot.events import AlertSeen, ButtonClicked
from bot.registry import Registry
from bot.service import AccountabilityService
from store.console import ConsoleStore
from store.database import SqlStore
from store.signins import SignIns

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "ownership.yaml"
USERS = {"alice": "U0ALICE01", "bob": "U0BOB0002", "carol": "U0CAROL03", "dana": "U0DANA004"}


@dataclass
class Holder:
    """A registry that a test can swap, as a reload would."""

    registry: Registry

    def __call__(self) -> Registry:
        return self.registry


def build_console(
    store: SqlStore,
    registry: Registry,
    clock: ManualClock,
    *,
    open_mode: bool = False,
    public_url: str = "http://127.0.0.1",
    registry_path: Path = EXAMPLE,
) -> tuple[web.Application, Console, Holder]:
    """An aiohttp application serving only the console."""
    holder = Holder(registry)
    console = Console(
        registry=holder,
        registry_path=registry_path,
        store=ConsoleStore(store.engine),
        signins=SignIns(store.engine),
        clock=clock,
        config=ConsoleConfig(public_url=public_url, open_mode=open_mode),
    )
    app = web.Application()
    app.add_routes(console.routes())
    return app, console, holder


async def link_for(console: Console, person: str) -> str:
    """A fresh one-time link path for `person`, issued as the chat command would."""
    link = await issue_link(
        links=console.signins, person=person, now=console.clock.now(), public_url=""
    )
    return link.url


async def sign_in(client: TestClient, console: Console, person: str) -> str:
    """Sign `client` in as `person`; returns the session cookie's value."""
    path = await link_for(console, person)
    response = await client.post(path, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.cookies["console_session"].value


def make_service(store: SqlStore, registry: Registry, clock: ManualClock) -> AccountabilityService:
    """The real service over an in-memory Slack workspace with the example's people."""
    slack = InMemoryPlatform(name="slack")
    for person, uid in USERS.items():
        slack.add_user(uid, registry.people[person].email)
    return AccountabilityService(
        registry=registry,
        store=store,
        platforms={"slack": slack},
        clock=clock,
        stop_runner=ActionRunner(workdir=ROOT, environ={}),
    )


async def alert(service: AccountabilityService, text: str, event: str) -> int:
    """Take an alert from the watched Slack channel as the Slack adapter does; its id."""
    taken = await service.take_alert(
        AlertSeen(platform="slack", channel="C0ALERTS1", text=text, event_id=event)
    )
    await service.publish(taken)
    assert taken.alert is not None
    return taken.alert.id


async def click(service: AccountabilityService, person: str, action: str, alert_id: int) -> None:
    """A person clicks a button on an alert's claim."""
    await service.click(ButtonClicked(UserRef("slack", USERS[person]), action, str(alert_id)))


async def history(service: AccountabilityService, clock: ManualClock, *, weeks: int = 7) -> None:
    """Weeks of resolved billing-router alerts before `clock`'s time, for the scorecard's
    trend: some acknowledged by the operator at once, some only after the maintainer was
    told. The clock ends where it started."""
    start = clock.now()
    for week in range(weeks, 0, -1):
        for i in range(2 + week % 3):
            clock.set(start - timedelta(weeks=week, hours=-i))
            alert_id = await alert(
                service, f"billing-router queue depth {week}.{i}", f"EvH{week}.{i}"
            )
            clock.advance(timedelta(minutes=2 + 3 * i + week))
            if (week + i) % 3 == 0:
                await service.tick()
            await click(service, "alice", cards.ACK, alert_id)
            clock.advance(timedelta(minutes=20))
            await click(service, "alice", cards.RESOLVE, alert_id)
    clock.set(start)


async def seed(service: AccountabilityService, clock: ManualClock) -> dict[str, int]:
    """A morning's worth of record: an escalated alert, an acknowledged one, a resolved one,
    an unowned one, and a confirmed role."""
    ids = {}
    ids["escalated"] = await alert(service, "billing-router p99 latency 2.3s", "Ev1")
    ids["acknowledged"] = await alert(service, "support-drafter <b>refusals</b> up", "Ev2")
    ids["resolved"] = await alert(service, "billing-router routing model drift", "Ev3")
    ids["unowned"] = await alert(service, "disk full on build-agent-7", "Ev4")
    await click(service, "bob", cards.ACK, ids["acknowledged"])
    await click(service, "alice", cards.RESOLVE, ids["resolved"])
    clock.advance(timedelta(minutes=11))
    await service.tick()
    await service.click(
        ButtonClicked(
            UserRef("slack", USERS["alice"]), cards.ROLE_CONFIRM, "billing-router:operator"
        )
    )
    return ids
