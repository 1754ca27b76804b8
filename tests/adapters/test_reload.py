"""Registry reload: a valid file takes effect without a restart (open alerts keep their copied
escalation maps); an invalid one is refused, the last good registry stays, and the admins are
told once, however many replicas saw it. Triggered by SIGHUP and by the file changing."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from adapters.fake import InMemoryPlatform, ManualClock, deliver
from adapters.reload import RELOADER, RegistryReloader
from adapters.server import build_app
from bot.domain import StepState
from store.database import SqlStore
from tests.adapters.ops_support import alert, eventually, runtime_for, settings_for, workspace

BROKEN = ("    operator: alice\n", "    operator: the team\n")
BOB_OPERATES = ("    operator: alice\n", "    operator: bob\n")
REFUSED = "Ownership registry change refused"


def edit(path: Path, change: tuple[str, str]) -> None:
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))


async def audit_actions(store: SqlStore) -> list[str]:
    async with store.transaction() as tx:
        return [e.action for e in await tx.evidence.entries()]


async def test_a_bad_file_is_refused_and_the_last_good_registry_stays(tmp_path: Path) -> None:
    chat = workspace()
    settings = settings_for(tmp_path)
    runtime = await runtime_for(settings, ManualClock(), chat)
    reloader = RegistryReloader(runtime, poll_seconds=3600)
    good = runtime.registry
    try:
        edit(Path(settings.ownership_file), BROKEN)

        result = await reloader.poll_once()

        assert result is not None and not result.applied
        assert runtime.registry is good and runtime.service.registry is good
        assert "registry reload refused (file changed)" in result.message
        (told,) = chat.directs_to("U0DANA004")  # dana is the registry's admin
        assert told.card.title == REFUSED
        assert "'the team' is not a person" in told.card.plain_text()
        assert "keeps running the last good registry (2 systems)" in told.card.plain_text()
        assert reloader.last_error and "the team" in reloader.last_error
        assert await reloader.poll_once() is None  # unchanged since: nothing more
        again = await reloader.reload(reason="SIGHUP")  # asked again: refused, not re-sent
        assert not again.applied
        assert len(chat.directs_to("U0DANA004")) == 1
        assert (await audit_actions(runtime.store)).count("registry.reload_refused") == 1
        assert runtime.metrics.registry_reloads.labels("refused")._value.get() == 2

        edit(Path(settings.ownership_file), ("    operator: the team\n", "    operator: bob\n"))
        fixed = await reloader.poll_once()

        assert fixed is not None and fixed.applied
        assert runtime.registry.system("billing-router").operator == "bob"  # type: ignore[union-attr]
        assert reloader.last_error is None
    finally:
        await runtime.store.close()


async def test_a_valid_change_takes_effect_and_open_alerts_keep_their_copied_map(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    settings = settings_for(tmp_path)
    runtime = await runtime_for(settings, clock)
    reloader = RegistryReloader(runtime, poll_seconds=3600)
    try:
        before = await deliver(runtime.service, alert("billing-router p99 latency", event="1"))
        assert before.alert is not None
        edit(Path(settings.ownership_file), BOB_OPERATES)
        edit(
            Path(settings.ownership_file),
            (
                "      - {notify: maintainer, after: 10m}\n"
                "      - {notify: steward, after: 30m}\n"
                "      - {notify: dana, after: 48h}",
                "      - {notify: dana, after: 5m}",
            ),
        )

        result = await reloader.poll_once()

        assert result is not None and result.applied
        assert "2 systems" in result.message
        after = await deliver(runtime.service, alert("billing-router error rate", event="2"))
        assert after.holder == "bob"
        async with runtime.store.transaction() as tx:
            old_steps = await tx.steps.of_alert(alert_id=before.alert.id)
            new_steps = await tx.steps.of_alert(alert_id=after.alert.id)  # type: ignore[union-attr]
        assert [(s.person, s.due_at - clock.now()) for s in old_steps] == [
            ("bob", timedelta(minutes=10)),
            ("carol", timedelta(minutes=30)),
            ("dana", timedelta(hours=48)),
        ]
        assert all(s.state == StepState.PENDING for s in old_steps)
        assert [(s.person, s.due_at - clock.now()) for s in new_steps] == [
            ("dana", timedelta(minutes=5))
        ]
        assert "registry.reloaded" in await audit_actions(runtime.store)
        assert runtime.metrics.registry_reloads.labels("applied")._value.get() == 1
    finally:
        await runtime.store.close()


async def test_sighup_reloads_the_file(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    runtime = await runtime_for(settings, ManualClock())
    reloader = RegistryReloader(runtime, poll_seconds=3600)  # only the signal can trigger it
    reloader.start()
    try:
        edit(Path(settings.ownership_file), BOB_OPERATES)
        os.kill(os.getpid(), signal.SIGHUP)
        await eventually(lambda: bool(reloader.results))
    finally:
        await reloader.stop()
        await runtime.store.close()
    (result,) = reloader.results
    assert (result.applied, result.reason) == (True, "SIGHUP")
    assert runtime.registry.system("billing-router").operator == "bob"  # type: ignore[union-attr]


async def test_replicas_refusing_the_same_bad_file_tell_the_admins_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    chats = [workspace(), workspace()]
    runtimes = [await runtime_for(settings, ManualClock(), chat) for chat in chats]
    try:
        reloaders = [RegistryReloader(r, poll_seconds=3600) for r in runtimes]
        edit(Path(settings.ownership_file), BROKEN)

        results = [await r.poll_once() for r in reloaders]

        assert all(r is not None and not r.applied for r in results)
        told = [s for chat in chats for s in chat.directs_to("U0DANA004")]
        assert [s.card.title for s in told] == [REFUSED]
    finally:
        for r in runtimes:
            await r.store.close()


async def test_the_running_app_picks_up_a_changed_file(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    runtime = await runtime_for(settings, ManualClock())
    app = build_app(runtime)
    app[RELOADER].poll_seconds = 0.05
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        edit(Path(settings.ownership_file), BOB_OPERATES)
        await eventually(
            lambda: runtime.registry.system("billing-router").operator == "bob"  # type: ignore[union-attr]
        )
    finally:
        await runner.cleanup()


async def test_an_admin_is_told_on_the_next_platform_when_one_cannot_answer(
    tmp_path: Path,
) -> None:
    """The refusal goes through the core's `deliver`: a platform whose directory lookup fails
    (rate-limited, down) is skipped rather than ending the reload with an exception."""
    chat = workspace()
    settings = settings_for(tmp_path)
    runtime = await runtime_for(settings, ManualClock(), chat)
    down = InMemoryPlatform(name="chat-a", fail_lookups=5)  # tried first: names sort before
    runtime.platforms["chat-a"] = down
    reloader = RegistryReloader(runtime, poll_seconds=3600)
    try:
        edit(Path(settings.ownership_file), BROKEN)

        result = await reloader.poll_once()

        assert result is not None and not result.applied
        assert down.fail_lookups < 5  # it was asked, and could not answer
        (told,) = chat.directs_to("U0DANA004")
        assert told.card.title == REFUSED
    finally:
        await runtime.store.close()
