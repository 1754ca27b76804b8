"""The HTTP routes: one aiohttp application and one event loop serve Slack, Teams, the HTTP
alert intake, the scheduler, health and metrics for a Runtime built by adapters.runtime (the
composition root). Nothing imports this module but the CLI's `serve`, lazily."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters import inbox_worker, intake, reload, scheduling
from adapters.runtime import Runtime, build_runtime
from adapters.settings import Settings
from adapters.slack import app as slack_app
from adapters.teams import endpoint as teams_endpoint
from adapters.web import console as web_console
from adapters.web.sandbox import pages as sandbox_pages
from bot.registry import Registry
from store.lock import lock_database

log = logging.getLogger(__name__)
RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)


async def healthz(request: web.Request) -> web.Response:
    """200 only when the database answers and a registry is loaded."""
    runtime = request.app[RUNTIME]
    database = await runtime.store.ping()
    ok = database and runtime.registry is not None
    return web.json_response(
        {"database": database, "registry": len(runtime.registry.systems)},
        status=200 if ok else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    runtime = request.app[RUNTIME]
    try:
        async with runtime.store.transaction() as tx:
            counts = await tx.alerts.unresolved_counts()
        runtime.metrics.set_open_alerts(counts, systems=runtime.registry.systems)
    except Exception:  # the rest of the metrics are still worth a scrape
        log.warning("open alerts not counted: the database did not answer")
    body = generate_latest(runtime.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app(runtime: Runtime) -> web.Application:
    """The aiohttp application with every enabled platform, the intake and the scheduler."""
    app = web.Application(client_max_size=1024 * 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    slack_app.mount(app, runtime)
    teams_endpoint.mount(app, runtime)
    intake.mount(app, runtime)
    scheduling.mount(app, runtime)
    reload.mount(app, runtime)
    web_console.mount(app, runtime)
    inbox_worker.mount(app, runtime)
    if runtime.sandbox is not None:
        sandbox_pages.mount(app, runtime.sandbox)

    async def finish_background(_: web.Application) -> None:
        await runtime.background.close(grace=10)

    async def close_store(_: web.Application) -> None:
        await runtime.store.close()

    app.on_shutdown.append(finish_background)
    app.on_cleanup.append(close_store)
    return app


async def serve(settings: Settings, *, registry: Registry | None = None) -> None:
    """Run until SIGTERM or SIGINT; in-flight requests finish, leased work is left to leases.

    On SQLite, raises DatabaseInUse when another process already serves the same file.
    """
    lock = lock_database(settings.database_url)
    try:
        await _serve(settings, registry)
    finally:
        if lock is not None:
            lock.release()


async def _serve(settings: Settings, registry: Registry | None) -> None:
    runtime = await build_runtime(settings, registry=registry)
    app = build_app(runtime)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    log.info("listening", extra={"port": settings.port})
    if runtime.sandbox is not None:
        address = f"http://localhost:{settings.port}{sandbox_pages.PREFIX}/"
        log.info("browser sandbox", extra={"address": address})
        print(f"Sandbox: open {address} to try the bot in your browser", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
