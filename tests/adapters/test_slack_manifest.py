"""The Slack app manifests ask for what the bot uses: its events, commands and scopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.slack.app import EVENTS_PATH
from adapters.slack.commands import COMMANDS

MANIFESTS = Path(__file__).resolve().parents[2] / "manifest"

# Every Web API method the adapter calls, and the bot scope Slack requires for it.
SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "conversations.open": "im:write",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
}


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((MANIFESTS / name).read_text())
    return loaded


@pytest.mark.parametrize("name", ["slack.yaml", "slack-socket-mode.yaml"])
def test_manifest_asks_for_what_the_bot_uses(name: str) -> None:
    manifest = load(name)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert set(SCOPES.values()) | {"commands", "channels:history", "groups:history"} <= scopes
    # claims of intake alerts go to a system's channel, which the bot may never have joined
    assert "chat:write.public" in scopes
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"message.channels", "message.groups"} <= events
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    # every command the bot knows by its own slash command, and the umbrella
    assert commands == {f"/{c}" for c in COMMANDS if c != "help"} | {"/accountability"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert len(manifest["display_information"]["description"]) <= 140
    assert manifest["features"]["bot_user"]["display_name"]


def test_http_manifest_sends_everything_to_one_url() -> None:
    manifest = load("slack.yaml")
    settings = manifest["settings"]
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    }
    assert len(urls) == 1
    assert urls.pop().endswith(EVENTS_PATH)
    assert settings["socket_mode_enabled"] is False


def test_socket_mode_manifest_has_no_request_urls() -> None:
    manifest = load("slack-socket-mode.yaml")
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["event_subscriptions"]
    assert "request_url" not in manifest["settings"]["interactivity"]
    assert all("url" not in c for c in manifest["features"]["slash_commands"])
