"""Registry reload without a restart: on SIGHUP, and when the file changes (a cheap stat every
few seconds, then a content hash, so a touched-but-equal file or a ConfigMap symlink swap to the
same content does nothing).

A valid file takes effect at once; open alerts keep the escalation maps copied onto them. An
invalid file is refused: the last good registry keeps running, and the error is logged and sent
to the registry's admins by direct message. With several replicas every one reloads, but the
evidence entry and the admins' message are written once per file version (`job_run` rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot import render
from bot.cards import Card
from bot.domain import BOT
from bot.registry import Registry, RegistryError, parse_registry

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0
MAX_PROBLEMS = 15


@dataclass(frozen=True)
class ReloadResult:
    """What one reload attempt did."""

    applied: bool
    reason: str
    digest: str
    message: str


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _digest(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()[:16]


class RegistryReloader:
    """Watches the registry file of one runtime and swaps the service's registry."""

    def __init__(self, runtime: Runtime, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.runtime = runtime
        self.path = runtime.registry_path
        self.poll_seconds = poll_seconds
        self._stamp = _stamp(self.path)
        # What start-up loaded; the file was read moments ago by build_runtime.
        self.good_digest = _digest(_read(self.path))
        self._seen_digest = self.good_digest
        self.last_error: str | None = None
        self.results: list[ReloadResult] = []
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[ReloadResult]] = set()
        self._lock = asyncio.Lock()

    async def poll_once(self) -> ReloadResult | None:
        """Reload when the file's content changed since it was last read; None otherwise."""
        stamp = await asyncio.to_thread(_stamp, self.path)
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        data = await asyncio.to_thread(_read, self.path)
        if _digest(data) == self._seen_digest:
            return None
        return await self._apply(data, reason="file changed")

    async def reload(self, *, reason: str = "SIGHUP") -> ReloadResult:
        """Re-read and apply the file now, changed or not (SIGHUP)."""
        self._stamp = await asyncio.to_thread(_stamp, self.path)
        data = await asyncio.to_thread(_read, self.path)
        return await self._apply(data, reason=reason)

    async def _apply(self, data: bytes | None, *, reason: str) -> ReloadResult:
        async with self._lock:
            digest = _digest(data)
            self._seen_digest = digest
            source = str(self.path)
            problems: list[str] = []
            registry: Registry | None = None
            if data is None:
                problems = [f"{source}: cannot read the file"]
            else:
                try:
                    registry = parse_registry(data.decode("utf-8"), source=source)
                except RegistryError as exc:
                    problems = [str(p) for p in exc.problems]
                except UnicodeDecodeError as exc:
                    problems = [f"{source}: not UTF-8 text ({exc.reason})"]
            if registry is None:
                result = await self._refuse(digest, problems, reason=reason)
            else:
                result = await self._use(registry, digest, reason=reason)
            self.results.append(result)
            return result

    async def _use(self, registry: Registry, digest: str, *, reason: str) -> ReloadResult:
        try:  # before it is used: alerts taken under it name a version on record
            await self.runtime.service.remember_registry(registry)
        except Exception:
            log.exception("could not keep the reloaded registry's text; reviews will lack it")
        self.runtime.service.use_registry(registry)
        previous, self.good_digest, self.last_error = self.good_digest, digest, None
        self.runtime.metrics.registry_reloads.labels("applied").inc()
        message = f"registry reloaded ({reason}): {len(registry.systems)} systems"
        log.info(
            message,
            extra={
                "registry": str(self.path),
                "digest": digest,
                "warnings": [str(w) for w in registry.warnings],
            },
        )
        await self._record_once(
            job="registry-reload",
            period=f"{previous}>{digest}",
            action="registry.reloaded",
            detail={
                "digest": digest,
                "previous": previous,
                "systems": sorted(registry.systems),
                "reason": reason,
            },
        )
        return ReloadResult(True, reason, digest, message)

    async def _refuse(self, digest: str, problems: list[str], *, reason: str) -> ReloadResult:
        self.runtime.metrics.registry_reloads.labels("refused").inc()
        registry = self.runtime.registry
        message = (
            f"registry reload refused ({reason}): {self.path} is not valid; still running the "
            f"last good registry ({len(registry.systems)} systems)"
        )
        self.last_error = "\n".join(problems)
        log.error(message, extra={"registry": str(self.path), "problems": problems})
        first = await self._record_once(
            job="registry-refused",
            period=f"{self.good_digest}>{digest}",
            action="registry.reload_refused",
            detail={"digest": digest, "kept": self.good_digest, "problems": problems[:50]},
        )
        if first:
            await self._tell_admins(registry, self._refusal_card(problems, registry))
        return ReloadResult(False, reason, digest, message)

    def _refusal_card(self, problems: list[str], registry: Registry) -> Card:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        return render.notice(
            "Ownership registry change refused",
            f"{self.path.name} was changed but is not valid, so the bot keeps running the last "
            f"good registry ({len(registry.systems)} systems). Fix the file; it is re-read when "
            "it changes. `accountability-bot check` shows the same errors.",
            *shown,
            tone="alert",
        )

    async def _record_once(
        self, *, job: str, period: str, action: str, detail: dict[str, object]
    ) -> bool:
        """Write the evidence entry once across replicas; True for the replica that wrote it."""
        service = self.runtime.service
        now = service.clock.now()
        try:
            async with service.store.transaction() as tx:
                if not await tx.jobs.claim_run(
                    job=job, period=period, worker=service.worker, at=now
                ):
                    return False
                await tx.evidence.append(
                    at=now, actor=BOT, action=action, system=None, alert_id=None, detail=detail
                )
        except Exception:  # the reload itself stands even when the database is away
            log.exception("could not record %s", action)
            return True
        return True

    async def _tell_admins(self, registry: Registry, card: Card) -> None:
        service = self.runtime.service
        if not registry.admins:
            log.warning("registry has no admins to tell about the refused reload")
        for admin in registry.admins:
            if await service.deliver(person=admin, card=card) is None:
                log.warning("admin %s could not be reached about the refused reload", admin)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.poll_once()
            except Exception:
                log.exception("registry poll failed")

    def _on_sighup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload(reason="SIGHUP"))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def start(self) -> None:
        """Poll the file and listen for SIGHUP."""
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._watch())
        try:
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        except (NotImplementedError, RuntimeError, ValueError):
            log.warning("SIGHUP reload unavailable here; the file is still polled")

    async def stop(self) -> None:
        """Stop polling and listening."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)


RELOADER: web.AppKey[RegistryReloader] = web.AppKey("reloader")


def mount(app: web.Application, runtime: Runtime, *, poll_seconds: float = POLL_SECONDS) -> None:
    """Watch the registry while the app runs."""
    reloader = RegistryReloader(runtime, poll_seconds=poll_seconds)
    app[RELOADER] = reloader

    async def start(_: web.Application) -> None:
        reloader.start()

    async def stop(_: web.Application) -> None:
        await reloader.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
