"""The command line: check, map, who-owns, audit verify and export."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from adapters.cli import main
from bot.domain import MessageRef
from bot.events import AlertSeen
from tests.conftest import EXAMPLE, shared_example

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registries"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("OWNERSHIP_FILE", str(EXAMPLE))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    return db


def test_check_passes_the_reference_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(shared_example())]) == 0
    out = capsys.readouterr().out
    assert "billing-router\n  operator        Alice Ng (alice)" in out
    assert "  stop authority  Carol Diaz (carol)" in out
    # warnings only: the reference fills in no accountability contract and no decisions
    assert "2 systems, 0 errors, 4 warnings" in out


def test_check_lists_every_gap_and_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "gaps.yaml"
    path.write_text(
        (FIXTURES / "unknown_person.yaml").read_text()
        + "  other:\n    operator: the team\n    maintainer: bob\n    match: [x]\n"
    )
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "operator        'alicia' (not a person)" in out
    assert "error: line 9: operator: operator 'alicia' is not a key of `people`" in out
    assert "  steward         MISSING" in out
    assert "error: line 14: operator: 'the team' is not a person" in out
    assert "2 systems, 3 errors, 0 warnings" in out


def test_check_with_warnings_only_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(FIXTURES / "warnings_only.yaml")]) == 0
    out = capsys.readouterr().out
    assert "warning: line 10: maintainer: the maintainer 'alice' is also the operator" in out
    assert "no watch rule" in out
    assert "0 errors, 9 warnings" in out


def test_map_markdown_and_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map"]) == 0
    md = capsys.readouterr().out
    assert "## billing-router: Billing ticket router" in md
    assert "| 10m | maintainer | Bob Ruiz | bob@example.com |" in md
    assert "## support-drafter" in md
    assert main(["map", "billing-router", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["after"] for s in data["billing-router"]["steps"]] == ["0s", "10m", "30m", "2d"]
    assert data["billing-router"]["stop_authority"] == "Carol Diaz"


def test_unknown_system_exits_1_with_close_matches(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["who-owns", "billing"]) == 1
    assert "Did you mean: billing-router?" in capsys.readouterr().err
    assert main(["map", "suport-drafter"]) == 1
    assert "Did you mean: support-drafter?" in capsys.readouterr().err


def test_who_owns(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["who-owns", "support-drafter"]) == 0
    out = capsys.readouterr().out
    assert "Operator: Bob Ruiz" in out and "Stop authority: Carol Diaz" in out


def record_some_evidence(db: Path) -> None:
    from adapters.runtime import build_runtime
    from adapters.settings import Settings

    async def run() -> None:
        runtime = await build_runtime(
            Settings(ownership_file=str(EXAMPLE), database_url=f"sqlite:///{db}")
        )
        for i, text in enumerate(("billing-router down", "support-drafter slow")):
            await runtime.service.take_alert(
                AlertSeen(
                    platform="slack",
                    channel="C0ALERTS1",
                    text=text,
                    event_id=f"E{i}",
                    message=MessageRef("slack", "C0ALERTS1", f"{i}.0"),
                )
            )
        await runtime.store.close()

    asyncio.run(run())


def test_audit_verify_and_export(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record_some_evidence(env)
    assert main(["audit", "verify"]) == 0
    assert "audit log intact: 2 entries" in capsys.readouterr().out

    assert main(["audit", "export", "--format", "json", "--system", "support-drafter"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["action"] == "alert.claimed" and entry["detail"]["holder"] == "bob"

    assert main(["audit", "export"]) == 0
    md = capsys.readouterr().out
    assert md.splitlines()[0].startswith("| # | time (UTC) | actor | action |")
    assert md.count("alert.claimed") == 2

    with sqlite3.connect(env) as conn:
        conn.execute("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 1")
    assert main(["audit", "verify"]) == 1
    assert "audit log BROKEN at entry 1" in capsys.readouterr().out


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("serve", "check", "who-owns", "map", "audit", "migrate"):
        assert name in out
