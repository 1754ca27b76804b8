"""The composition root: settings -> registry and store -> platforms -> service, in that
order, with no web application involved. `adapters.server` routes HTTP to what this builds;
the CLI (`who-owns`, `stale-scan --dry-run`) uses it without any route.

A new chat platform plugs in here: build its `bot.ports.ChatPlatform` in `_platforms` from
the settings, then give it routes in `adapters.server.build_app`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from adapters.actions import ActionRunner
from adapters.background import Background
from adapters.clock import SystemClock
from adapters.metrics import Metrics
from adapters.settings import Settings
from adapters.slack.platform import SlackPlatform
from adapters.teams.auth import TeamsConnection, connect
from adapters.web.sandbox import wiring as sandbox_wiring
from adapters.web.sandbox.core import Sandbox
from bot.events import AlertSeen
from bot.ports import ChatPlatform, Clock
from bot.registry import Registry, load_registry
from bot.service import AccountabilityService
from store.database import SqlStore, open_store, redacted
from store.inbox import Delivery, Inbox
from store.references import StoredReferences
from store.signins import SignIns

log = logging.getLogger(__name__)

# How long a worker holds what it is sending (a claim post, an escalation step). Platform calls
# give up well within it (see adapters.ratelimit), so a lapsed lease never sends twice.
LEASE = timedelta(seconds=30)


@dataclass
class Runtime:
    """Everything one process shares: settings, registry, store, platforms and the service."""

    settings: Settings
    registry_path: Path
    store: SqlStore
    service: AccountabilityService
    metrics: Metrics
    clock: Clock
    platforms: dict[str, ChatPlatform] = field(default_factory=dict)
    background: Background = field(default_factory=Background)
    slack: SlackPlatform | None = None
    teams: TeamsConnection | None = None
    signins: SignIns | None = None
    inbox: Inbox | None = None
    # Per delivery kind, how the inbox worker reads a recorded delivery back as alerts; each
    # platform's `mount` registers its own.
    decoders: dict[str, Callable[[Delivery], Sequence[AlertSeen]]] = field(default_factory=dict)
    sandbox: Sandbox | None = None  # the browser sandbox, on loopback only (adapters/web/sandbox)

    @property
    def registry(self) -> Registry:
        """The registry in force (reloads swap it)."""
        return self.service.registry


def _slack(settings: Settings, metrics: Metrics) -> SlackPlatform | None:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    if not token:
        if settings.slack_signing_secret or settings.slack_app_token:
            log.warning("SLACK_BOT_TOKEN is not set; Slack stays off")
        return None
    return SlackPlatform(
        token=token,
        base_url=settings.slack_api_url,
        # a third of the lease: an escalation step makes up to three calls
        call_budget=LEASE.total_seconds() / 3,
        on_rate_limited=lambda: metrics.rate_limited.labels("slack").inc(),
    )


def _teams(
    settings: Settings, store: SqlStore, clock: Clock, metrics: Metrics
) -> TeamsConnection | None:
    """Teams only when configured: TEAMS_APP_ID (with pinned tenants), or the explicit
    TEAMS_DEV_ANONYMOUS=1 development mode. Otherwise /api/messages does not exist."""
    if not (settings.teams_app_id or "").strip():
        if not settings.teams_dev_anonymous:
            return None
    elif not settings.teams_tenants():
        raise ValueError(
            "TEAMS_APP_ID is set but no tenant is pinned: set TEAMS_APP_TENANT_ID (or "
            "TEAMS_ALLOWED_TENANTS, comma-separated), so that a user of another tenant whose "
            "email matches a registry person cannot act as them"
        )
    return connect(
        settings,
        references=StoredReferences(store),
        clock=clock,
        call_budget=LEASE.total_seconds() / 3,
        on_rate_limited=lambda: metrics.rate_limited.labels("teams").inc(),
    )


async def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    run_migrations: bool = True,
    registry: Registry | None = None,
) -> Runtime:
    """Load the registry (a broken one stops start-up) unless given, open the store, build
    the platforms the settings enable, then the service over them."""
    registry_path = Path(settings.ownership_file).absolute()
    registry = registry or load_registry(registry_path)
    store = await open_store(settings.database_url, run_migrations=run_migrations)
    # The sandbox, when on, moves the service's clock and makes every stop action harmless.
    sandbox = sandbox_wiring.parts(
        settings, registry=lambda: service.registry, workdir=registry_path.parent, clock=clock
    )
    clock = sandbox.clock if sandbox else clock or SystemClock()
    metrics = Metrics()
    slack = _slack(settings, metrics)
    teams = _teams(settings, store, clock, metrics)
    platforms: dict[str, ChatPlatform] = {}
    if slack is not None:
        platforms[slack.name] = slack
    if teams is not None:
        platforms[teams.platform.name] = teams.platform
    signins = SignIns(store.engine)
    if sandbox is not None:
        platforms[sandbox.platform.name] = sandbox.platform
    service = AccountabilityService(
        registry=registry,
        store=store,
        platforms=platforms,
        clock=clock,
        stop_runner=sandbox.actions if sandbox else ActionRunner(workdir=registry_path.parent),
        observer=metrics,
        lease=LEASE,
        sign_in_links=signins,
        public_url=settings.base_url,
    )
    await service.remember_registry()  # every version alerts are taken under is kept
    log.info(
        "runtime ready",
        extra={
            "registry": str(registry_path),
            "systems": len(registry.systems),
            "database": redacted(settings.database_url),
            "platforms": sorted(platforms),
        },
    )
    inbox = Inbox(store.engine, clock=clock, writer_lock=store.writer_lock)
    return Runtime(
        settings,
        registry_path,
        store,
        service,
        metrics,
        clock,
        platforms,
        slack=slack,
        teams=teams,
        signins=signins,
        inbox=inbox,
        sandbox=sandbox.assemble(service) if sandbox else None,
    )
