"""Operations over real HTTP and real processes: /healthz, /metrics in Prometheus text format,
the Procfile, `stale-scan --dry-run`, and `accountability-bot serve` itself: a second process on
the same SQLite file is refused, SIGHUP with a broken registry keeps the old one, SIGTERM exits
cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters import cli
from adapters.fake import ManualClock, deliver
from adapters.server import build_app
from bot import cards
from bot.domain import UserRef
from bot.events import ButtonClicked, CommandGiven
from store.database import SqlStore, make_engine
from tests.adapters.ops_support import alert, runtime_for, settings_for, workspace
from tests.conftest import ROOT

BOB, CAROL = UserRef("slack", "U0BOB0002"), UserRef("slack", "U0CAROL03")
TUESDAY = ManualClock().now() + timedelta(days=1)  # no stale scan is due: quiet DMs
BOT = Path(sys.executable).with_name("accountability-bot")


async def test_healthz_is_200_only_while_the_database_answers(tmp_path: Path) -> None:
    runtime = await runtime_for(settings_for(tmp_path), ManualClock(TUESDAY))
    real_store = runtime.store
    async with TestClient(TestServer(build_app(runtime))) as client:
        ok = await client.get("/healthz")
        assert ok.status == 200
        assert await ok.json() == {"database": True, "registry": 2}

        runtime.store = SqlStore(make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"))
        down = await client.get("/healthz")
        assert down.status == 503
        assert (await down.json())["database"] is False
    await real_store.close()


async def test_metrics_cover_alerts_escalations_acks_stops_unowned_and_429s(
    tmp_path: Path,
) -> None:
    clock = ManualClock(TUESDAY)
    runtime = await runtime_for(settings_for(tmp_path), clock, workspace())
    service = runtime.service
    await deliver(service, alert("billing-router p99 latency", event="1"))
    drafted = await deliver(service, alert("support-drafter timeouts", event="2"))
    await deliver(service, alert("disk full on batch-7", event="3"))
    assert drafted.alert is not None
    clock.advance(timedelta(minutes=2))
    await service.click(ButtonClicked(user=BOB, action=cards.ACK, value=str(drafted.alert.id)))
    clock.advance(timedelta(minutes=9))
    assert len((await service.tick()).sent) == 1
    confirm = await service.command(
        CommandGiven(user=CAROL, command="stop", args="billing-router drift")
    )
    (yes, _) = confirm.card.buttons
    await service.click(ButtonClicked(user=CAROL, action=yes.action, value=yes.value))

    async with TestClient(TestServer(build_app(runtime))) as client:
        response = await client.get("/metrics")
        body = await response.text()

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    lines = set(body.splitlines())
    expected = {
        'accountability_alerts_total{outcome="claimed",system="billing-router"} 1.0',
        'accountability_alerts_total{outcome="claimed",system="support-drafter"} 1.0',
        'accountability_alerts_total{outcome="unowned",system="unowned"} 1.0',
        'accountability_open_alerts{system="billing-router"} 1.0',
        'accountability_open_alerts{system="support-drafter"} 1.0',
        'accountability_open_alerts{system="unowned"} 1.0',
        "accountability_escalations_sent_total 1.0",
        'accountability_ack_latency_seconds_bucket{le="60.0"} 0.0',
        'accountability_ack_latency_seconds_bucket{le="300.0"} 1.0',
        "accountability_ack_latency_seconds_sum 120.0",
        'accountability_stops_total{kind="stop",result="failed"} 1.0',
        "accountability_unowned_alerts_total 1.0",
        'accountability_rate_limited_total{platform="slack"} 0.0',
        'accountability_rate_limited_total{platform="teams"} 0.0',
        'accountability_registry_reloads_total{result="refused"} 0.0',
        "accountability_stale_digests_total 0.0",
    }
    assert expected <= lines, sorted(expected - lines)


def test_procfile_releases_with_migrate_and_serves_on_port() -> None:
    entries = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert entries["release"].split() == ["accountability-bot", "migrate"]
    assert entries["web"].split()[:2] == ["accountability-bot", "serve"]
    commands = cli.parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"serve", "migrate", "stale-scan"} <= set(commands)


def test_stale_scan_dry_run_prints_what_would_be_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    monkeypatch.setenv("OWNERSHIP_FILE", settings.ownership_file)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")

    assert cli.main(["stale-scan", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(dry run)" in out
    assert "3 digest(s) would be sent." in out
    assert "--- to Alice Ng (alice) ---" in out
    assert "operator of billing-router: never confirmed" in out
    assert "[Still mine: billing-router operator] [Hand off: billing-router operator]" in out

    assert cli.main(["stale-scan"]) == 2
    assert "use `stale-scan --dry-run` to preview" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def serve_env(tmp_path: Path, port: int) -> dict[str, str]:
    settings = settings_for(tmp_path)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TEAMS_", "ALERT_", "DATABASE_", "OWNERSHIP_"))
    }
    env.update(
        OWNERSHIP_FILE=settings.ownership_file,
        DATABASE_URL=settings.database_url,
        PORT=str(port),
        HOST="127.0.0.1",
        LOG_LEVEL="INFO",
        TZ="UTC",
    )
    return env


def test_serve_refuses_a_second_process_on_the_same_sqlite_file(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "first.log"
    with log.open("wb") as sink:
        first = subprocess.Popen(
            [str(BOT), "serve"], env=serve_env(tmp_path, port), stderr=sink, stdout=sink
        )
    try:
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and first.poll() is None:
            try:
                status, body = get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200:
                break
        assert status == 200, log.read_text()
        assert json.loads(body) == {"database": True, "registry": 2}

        second = subprocess.run(
            [str(BOT), "serve"],
            env=serve_env(tmp_path, free_port()),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert "cannot start:" in second.stderr
        assert f"is already served by another process (pid {first.pid}" in second.stderr
        assert "use PostgreSQL" in second.stderr

        registry = tmp_path / "ownership.yaml"
        registry.write_text(registry.read_text().replace("operator: alice", "operator: the team"))
        first.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "registry reload refused" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "registry reload refused (SIGHUP)" in log.read_text()
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # the old registry still serves

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [r["message"] for r in records]
    assert "listening" in messages and "shutting down" in messages
    refused = next(r for r in records if r["message"].startswith("registry reload refused"))
    assert refused["level"] == "ERROR"
    assert any("'the team' is not a person" in p for p in refused["problems"])
