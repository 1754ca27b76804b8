"""`accountability-bot teams-package`: the zip Teams accepts, with the app id from the
environment, the bot's scopes and commands, the RSC permission for channel messages, and
two icons of the sizes Teams requires."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from adapters import cli

APP_ID = "6c4e6bd3-1111-4222-8333-444455556666"
MANIFEST = Path(__file__).resolve().parents[2] / "manifest" / "teams" / "manifest.json"


def png_size(data: bytes) -> tuple[int, int, int]:
    """Width, height and colour type from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height, data[25]


def test_the_package_carries_the_app_id_scopes_commands_and_icons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    output = tmp_path / "out" / "teams.zip"

    assert cli.main(["teams-package", "--output", str(output)]) == 0

    assert "Upload an app" in capsys.readouterr().out
    with zipfile.ZipFile(output) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        raw = archive.read("manifest.json").decode()
        color = archive.read("color.png")
        outline = archive.read("outline.png")
    assert "{{" not in raw
    manifest = json.loads(raw)
    assert manifest["id"] == APP_ID
    assert manifest["webApplicationInfo"]["id"] == APP_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    [commands] = bot["commandLists"]
    titles = [c["title"] for c in commands["commands"]]
    assert titles == ["who-owns", "who-decides", "stop", "resume", "review", "console", "help"]
    rsc = {p["name"] for p in manifest["authorization"]["permissions"]["resourceSpecific"]}
    assert "ChannelMessage.Read.Group" in rsc
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert png_size(color)[:2] == (192, 192)
    assert png_size(outline) == (32, 32, 6)  # RGBA: the outline sits on transparency


def test_the_repository_manifest_leaves_the_app_id_to_the_package() -> None:
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["id"] == "{{TEAMS_APP_ID}}"
    assert manifest["bots"][0]["botId"] == "{{TEAMS_APP_ID}}"


def test_without_an_app_id_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TEAMS_APP_ID", raising=False)

    assert cli.main(["teams-package", "--output", str(tmp_path / "teams.zip")]) == 2

    assert "TEAMS_APP_ID is not set" in capsys.readouterr().err
    assert not (tmp_path / "teams.zip").exists()


def test_an_app_id_that_is_not_a_guid_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEAMS_APP_ID", "my-bot")

    assert cli.main(["teams-package", "--output", str(tmp_path / "teams.zip")]) == 2

    assert "is not a GUID" in capsys.readouterr().err
    assert not (tmp_path / "teams.zip").exists()


def test_help_lists_teams_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "teams-package" in capsys.readouterr().out
