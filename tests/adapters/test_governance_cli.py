"""The governance command line, in-process through adapters.cli and as the installed console
script: `scorecard [SYSTEM] [--period] [--format md|json|csv]` from a constructed record, and
`governance --dry-run` (who would get which digest now, nothing sent)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters import cli
from adapters.fake import ManualClock, deliver
from adapters.settings import Settings
from bot import cards
from bot.domain import UserRef
from bot.events import ButtonClicked
from bot.scorecard_views import CSV_COLUMNS
from tests.adapters.ops_support import alert, runtime_for, settings_for

BOT = Path(sys.executable).with_name("accountability-bot")
ALICE = UserRef("slack", "U0ALICE01")


async def history(settings: Settings) -> None:
    """Two billing-router alerts an hour ago: one acknowledged by its operator after 3
    minutes, one left open; one support-drafter alert in the week before."""
    now = datetime.now(UTC)
    clock = ManualClock(now - timedelta(days=8))
    runtime = await runtime_for(settings, clock)
    try:
        await deliver(runtime.service, alert("support-drafter draft assistant down", event="0"))
        clock.set(now - timedelta(hours=1))
        first = await deliver(runtime.service, alert("billing-router p99 latency", event="1"))
        await deliver(runtime.service, alert("routing model drift on urgent", event="2"))
        clock.advance(timedelta(minutes=3))
        assert first.alert is not None
        reply = await runtime.service.click(
            ButtonClicked(user=ALICE, action=cards.ACK, value=str(first.alert.id))
        )
        assert reply is None or "Refused" not in reply.card.title
    finally:
        await runtime.store.close()


@pytest.fixture
async def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    found = settings_for(tmp_path)
    monkeypatch.setenv("OWNERSHIP_FILE", found.ownership_file)
    monkeypatch.setenv("DATABASE_URL", found.database_url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    await history(found)
    return found


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_scorecard_json_counts_the_record(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "scorecard", "billing-router", "--format", "json")

    assert code == 0
    doc = json.loads(out)
    assert doc["version"] == 1
    (card,) = doc["scorecards"]
    assert card["system"] == "billing-router" and card["steward"] == "carol"
    now = card["current"]
    assert (now["taken"], now["resolved"], now["still_open"]) == (2, 0, 2)
    assert (now["operator_first"], now["responses"], now["ack_p50_seconds"]) == (1, 1, 180.0)
    assert now["operator_ack_rate"] == 0.5
    assert card["previous"]["taken"] == 0
    assert card["last_digest"] is None and card["no_decision"] is False
    # billing-router's own thresholds: operator first under 50% needs review; 50% does not
    assert card["review_needed"] is False


def test_scorecard_markdown_and_csv_for_every_system(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "scorecard")
    assert code == 0
    assert out.startswith("# Scorecard, ")
    assert "## billing-router: Billing ticket router" in out
    assert "## support-drafter: Support reply drafter" in out
    assert "| alerts taken | 2 | 0 | +2 |" in out
    assert "Last decision: no digest sent yet." in out

    code, out, _ = run(capsys, "scorecard", "--format", "csv", "--period", "14d")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_system = {r[0]: dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]}
    assert sorted(by_system) == ["billing-router", "support-drafter"]
    assert by_system["support-drafter"]["taken"] == "1"  # 8 days ago: inside 14 days


def test_scorecard_bad_input(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "scorecard", "biling-router")
    assert code == 1 and "Did you mean: billing-router?" in err
    for period in ("soon", "0s"):
        code, _, err = run(capsys, "scorecard", "--period", period)
        assert code == 2 and "--period" in err
    with pytest.raises(SystemExit):
        cli.main(["scorecard", "--format", "xml"])


def test_governance_dry_run_says_who_gets_which_digest(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "governance", "--dry-run")

    assert code == 0
    assert "Governance digests for period " in out and "(dry run)" in out
    assert "1 steward digest(s) would be sent." in out
    assert "--- to Carol Diaz (carol): billing-router, support-drafter ---" in out
    assert "billing-router (Billing ticket router): 2 alerts taken (+2)" in out
    assert "[Continue billing-router] [Stabilize billing-router] [Pause billing-router]" in out
    assert "(Reason (optional, one line))" in out

    code, _, err = run(capsys, "governance")
    assert code == 2 and "use `governance --dry-run` to preview" in err
    code, out, _ = run(capsys, "governance", "--dry-run")
    assert code == 0  # the dry runs claimed no period


def test_the_console_script_previews_the_digest(settings: Settings) -> None:
    env = {
        **os.environ,
        "OWNERSHIP_FILE": settings.ownership_file,
        "DATABASE_URL": settings.database_url,
        "GOVERNANCE_CRON": "30 7 * * 1",
        "TZ": "Europe/Berlin",
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [str(BOT), "governance", "--dry-run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--- to Carol Diaz (carol): billing-router, support-drafter ---" in done.stdout
    period = done.stdout.split("period ", 1)[1].split(" ", 1)[0]
    fired = datetime.fromisoformat(period)
    assert fired.weekday() == 0 and (fired.hour, fired.minute) in ((5, 30), (6, 30))
    bad = subprocess.run(
        [str(BOT), "governance", "--dry-run"],
        env={**env, "GOVERNANCE_CRON": "every monday"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "GOVERNANCE_CRON='every monday'" in bad.stderr
