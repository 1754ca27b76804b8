"""The console's pages: systems, one system, open alerts, evidence, the registry check and the
published escalation map. Chat is where people act; these pages are where they look.
`Console.routes()` is a route table the composition root adds to the one aiohttp application,
so the console answers on the same port as the platforms."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from markupsafe import Markup

from adapters.runtime import Runtime
from bot.diagnostics import check_report, escalation_map, escalation_rows, governance_gaps
from bot.ports import Clock
from bot.registry import Problem, Registry, RegistryError, load_registry
from store.console import AlertFilter, AuditFilter, ConsoleStore
from store.signins import SignIns

from . import charts, views
from .auth import Gate, Handler, Viewer
from .templating import STATIC, Pages

RECENT = 20  # resolved alerts shown on a system's page
TIMELINE = 50  # evidence entries per page
PROBLEMS = 200  # registry errors and warnings per page
CHAIN_FRESH = timedelta(seconds=60)


@dataclass(frozen=True)
class ConsoleConfig:
    """How the console is reached and who may open it."""

    public_url: str
    open_mode: bool  # no chat platform: no sign-in, loopback only
    session_lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class CheckResult:
    """What `accountability-bot check` says about the registry file."""

    path: str
    problems: list[Problem]
    systems: int
    report: str


class Console:
    """Page handlers over a registry source, the console store and a clock."""

    def __init__(
        self,
        *,
        registry: Callable[[], Registry],
        registry_path: Path,
        store: ConsoleStore,
        signins: SignIns,
        clock: Clock,
        config: ConsoleConfig,
        pages: Pages | None = None,
    ) -> None:
        self.registry = registry
        self.registry_path = registry_path
        self.store = store
        self.clock = clock
        self.config = config
        self.pages = pages or Pages()
        self.signins = signins
        self.gate = Gate(
            signins=signins,
            clock=clock,
            registry=registry,
            pages=self.pages,
            open_mode=config.open_mode,
            lifetime=config.session_lifetime,
            public_url=config.public_url,
        )
        self.trends = charts.TrendCache()
        self._index: views.SearchIndex | None = None
        self._map: tuple[Registry, Markup, str] | None = None
        self._check: tuple[tuple[int, int], CheckResult] | None = None
        self._checking: tuple[tuple[int, int], asyncio.Future[CheckResult]] | None = None

    def routes(self) -> list[web.AbstractRouteDef]:
        """Every console route; pages need a viewer, static files and sign-in do not."""

        def g(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
            return self.gate.guard(self._reading(handler))

        return [
            web.get("/", g(self.systems)),
            web.get("/systems/{system}", g(self.system)),
            web.get("/open-alerts", g(self.alerts)),
            web.get("/evidence", g(self.evidence)),
            web.get("/registry", g(self.check)),
            web.get("/registry.txt", g(self.check_text)),
            web.get("/map", g(self.map_page)),
            web.get("/map.md", g(self.map_markdown)),
            *self.gate.routes(),
            web.static("/static/", STATIC, append_version=False),
        ]

    def _reading(self, handler: Handler) -> Handler:
        async def read(request: web.Request, viewer: Viewer) -> web.StreamResponse:
            async with self.store.reading():
                return await handler(request, viewer)

        return read

    def _page(
        self, name: str, viewer: Viewer, *, status: int = 200, **context: object
    ) -> web.Response:
        return self.pages.html(name, status=status, viewer=viewer, here=name, **context)

    def _search_index(self) -> views.SearchIndex:
        registry = self.registry()
        if self._index is None or self._index.registry is not registry:
            self._index = views.SearchIndex(registry)
        return self._index

    # ---- systems ------------------------------------------------------------------------------

    async def systems(self, request: web.Request, viewer: Viewer) -> web.Response:
        """Every system, filtered and paged on the server."""
        query = views.SystemsQuery.parse(request.query)
        index = self._search_index()
        now = self.clock.now()
        stopped = await self.store.stopped()
        counts = await self.store.open_counts()
        confirmations = await self.store.confirmations()
        found = views.filter_systems(
            index,
            query,
            stopped=stopped,
            open_counts=counts,
            confirmations=confirmations,
            now=now,
        )
        registry = index.registry
        watched = [s for s in found.rows if s.governance.review_when.watched()]
        review: dict[str, object] = {}
        if watched:  # only systems with thresholds can need review
            record = await self.store.scorecard_record(
                since=now - 2 * charts.WEEK, until=now, systems=[s.id for s in watched]
            )
            review = dict(charts.review_needed(watched, record, now=now))
        rows = [(s, views.roles(s, registry, confirmations.get(s.id, {}), now)) for s in found.rows]
        return self._page(
            "systems.html",
            viewer,
            query=query,
            found=found,
            rows=rows,
            stopped=stopped,
            counts=counts,
            people=registry.people,
            review=review,
            unowned=counts.get(None, 0),
            total=len(registry.systems),
        )

    async def system(self, request: web.Request, viewer: Viewer) -> web.Response:
        """One system: roles, escalation map, alerts and its evidence."""
        registry = self.registry()
        system = registry.system(request.match_info["system"])
        if system is None:
            return self._page("missing.html", viewer, status=404, what="system")
        now = self.clock.now()
        confirmations = await self.store.confirmations()
        stopped = await self.store.stopped()
        open_alerts = await self.store.alerts(
            where=AlertFilter(system=system.id), offset=0, limit=views.PER_PAGE
        )
        recent = await self.store.alerts(
            where=AlertFilter(system=system.id, state="resolved", open_only=False),
            offset=0,
            limit=RECENT,
        )
        steps = await self.store.steps(alert_ids=[a.id for a in open_alerts.items])
        timeline = await self.store.audit(
            where=AuditFilter(system=system.id), before=None, limit=TIMELINE
        )
        trend = self.trends.get(system.id, now)
        if trend is None:
            since, until = charts.span(now)
            record = await self.store.scorecard_record(
                since=since, until=until, systems=[system.id]
            )
            # Drawing charts is CPU work: off the event loop.
            trend = await asyncio.to_thread(charts.trend, system, record, now=now)
            self.trends.put(system.id, now, trend)
        return self._page(
            "system.html",
            viewer,
            system=system,
            roles=views.roles(system, registry, confirmations.get(system.id, {}), now),
            stopped=stopped.get(system.id),
            escalation=escalation_rows(system, registry),
            open_alerts=[views.alert_view(a, steps.get(a.id, []), now) for a in open_alerts.items],
            open_total=open_alerts.total,
            recent=recent.items,
            entries=timeline,
            trend=trend,
            people=registry.people,
        )

    # ---- alerts -------------------------------------------------------------------------------

    async def alerts(self, request: web.Request, viewer: Viewer) -> web.Response:
        """Open alerts: state, holder, who has been told and when, the next step."""
        registry = self.registry()
        q = request.query
        system = views.param(q, "system")
        holder = views.param(q, "holder")
        state = q.get("state", "")
        state = state if state in ("open", "acknowledged") else ""
        page = views.page_number(q.get("page"))
        found = await self.store.alerts(
            where=AlertFilter(
                system=system if system and system != "-" else None,
                unowned=system == "-",
                holder=self._search_index().person(holder) or holder or None,
                state=state or None,
            ),
            offset=(page - 1) * views.PER_PAGE,
            limit=views.PER_PAGE,
        )
        steps = await self.store.steps(alert_ids=[a.id for a in found.items])
        now = self.clock.now()
        return self._page(
            "alerts.html",
            viewer,
            alerts=[views.alert_view(a, steps.get(a.id, []), now) for a in found.items],
            found=found,
            page=page,
            filters={"system": system, "holder": holder, "state": state},
            people=registry.people,
        )

    # ---- evidence -----------------------------------------------------------------------------

    async def evidence(self, request: web.Request, viewer: Viewer) -> web.Response:
        """The audit timeline, newest first, with filters and whether the chain verifies."""
        q = request.query
        filters = {k: views.param(q, k) for k in ("system", "actor", "action")}
        since, until = views.day(q.get("since")), views.day(q.get("until"))
        where = AuditFilter(
            system=filters["system"] or None,
            actor=self._search_index().person(filters["actor"]) or filters["actor"] or None,
            action=filters["action"] or None,
            alert_id=views.whole(q.get("alert")),
            since=since,
            until=until + timedelta(days=1) if until else None,
        )
        before = views.whole(q.get("before"))
        entries = await self.store.audit(where=where, before=before, limit=TIMELINE + 1)
        more = len(entries) > TIMELINE
        entries = entries[:TIMELINE]
        chain = await self.store.verify(now=self.clock.now(), fresh_for=CHAIN_FRESH)
        return self._page(
            "evidence.html",
            viewer,
            entries=entries,
            more=more,
            next_before=entries[-1].seq if more and entries else None,
            filters={
                **filters,
                "alert": str(where.alert_id or ""),
                "since": since.date().isoformat() if since else "",
                "until": until.date().isoformat() if until else "",
            },
            actions=await self.store.actions(now=self.clock.now()),
            chain=chain,
            people=self.registry().people,
        )

    # ---- registry and map ---------------------------------------------------------------------

    async def _check_file(self) -> CheckResult:
        """The check of the registry file as it is on disk, redone when the file changes.
        Parsing a large registry takes seconds: it runs in a thread, once however many
        pages ask meanwhile, and the event loop keeps serving the bot."""
        try:
            st = os.stat(self.registry_path)
            key = (st.st_mtime_ns, st.st_size)
        except OSError:
            key = (0, 0)
        if self._check is not None and self._check[0] == key:
            return self._check[1]
        if self._checking is None or self._checking[0] != key:
            self._checking = (
                key,
                asyncio.ensure_future(asyncio.to_thread(_check, self.registry_path)),
            )
        result = await asyncio.shield(self._checking[1])
        self._check = (key, result)
        return result

    async def check(self, request: web.Request, viewer: Viewer) -> web.Response:
        """What `accountability-bot check` says about the registry file, line by line."""
        result = await self._check_file()
        # A large registry can have tens of thousands of warnings: a page of them at a time,
        # in the file's order, and the whole report as text for those who want it all.
        page = views.page_number(request.query.get("page"))
        start = (page - 1) * PROBLEMS
        shown = result.problems[start : start + PROBLEMS]
        return self._page(
            "registry.html",
            viewer,
            result=result,
            errors=[p for p in shown if p.severity == "error"],
            warnings=[p for p in shown if p.severity == "warning"],
            counts={s: sum(p.severity == s for p in result.problems) for s in ("error", "warning")},
            page=page,
            has_next=start + PROBLEMS < len(result.problems),
            running=len(self.registry().systems),
        )

    async def check_text(self, request: web.Request, viewer: Viewer) -> web.Response:
        """The whole `check` report as plain text."""
        response = self.pages.raw((await self._check_file()).report)
        response.content_type = "text/plain"
        return response

    async def _published(self) -> tuple[Markup, str]:
        """The map as HTML and as Markdown, made once per registry (it changes only with the
        registry) and in a thread: at 10,000 systems it is the largest page."""
        registry = self.registry()
        if self._map is None or self._map[0] is not registry:
            made = await asyncio.to_thread(self._make_map, registry)
            self._map = (registry, *made)
        return self._map[1], self._map[2]

    def _make_map(self, registry: Registry) -> tuple[Markup, str]:
        html = self.pages.env.get_template("map_body.html").render(
            systems=[(s, escalation_rows(s, registry)) for s in registry.systems.values()],
            people=registry.people,
        )
        markdown = escalation_map(registry, registry.systems.values(), fmt="md")
        return Markup(html), markdown  # noqa: S704 (rendered autoescaped)

    async def map_page(self, request: web.Request, viewer: Viewer) -> web.Response:
        """The published escalation map: one printable page, the content of `map --format md`."""
        content, _ = await self._published()
        return self._page("map.html", viewer, content=content, generated=self.clock.now())

    async def map_markdown(self, request: web.Request, viewer: Viewer) -> web.Response:
        """The same map as `accountability-bot map --format md`, for a wiki."""
        _, markdown = await self._published()
        response = self.pages.raw(markdown)
        response.content_type = "text/markdown"
        return response


def _check(path: Path) -> CheckResult:
    """What `accountability-bot check` says: its report, and its problems as rows."""
    report, _ = check_report(path)
    try:
        loaded = load_registry(path)
    except RegistryError as exc:
        return CheckResult(str(path), exc.problems, 0, report)
    problems = [*loaded.warnings, *governance_gaps(loaded)]
    return CheckResult(str(path), problems, len(loaded.systems), report)


def mount(app: web.Application, runtime: Runtime) -> None:
    """Serve the console on the bot's own port. With no chat platform configured there is
    nobody to send a sign-in link to, so it opens on loopback only."""
    settings = runtime.settings
    assert runtime.signins is not None
    console = Console(
        registry=lambda: runtime.registry,
        registry_path=runtime.registry_path,
        store=ConsoleStore(runtime.store.engine),
        signins=runtime.signins,
        clock=runtime.clock,
        config=ConsoleConfig(
            public_url=settings.base_url,
            open_mode=not settings.chat_configured,
            session_lifetime=settings.console_session,
        ),
    )
    app.add_routes(console.routes())
