"""HTTP alert intake over real HTTP: the whole app (build_runtime + build_app) on 127.0.0.1,
a SQLite temp file, in-memory Slack and Teams platforms, and payloads shaped like the
published examples of Alertmanager (webhook version 4) and Grafana unified alerting."""

from __future__ import annotations

import copy
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from adapters.fake import InMemoryPlatform, ManualClock, Sent
from adapters.intake import MAX_BODY, route
from adapters.intake_formats import IncomingAlert
from adapters.runtime import Runtime, build_runtime
from adapters.server import build_app
from adapters.settings import Settings
from adapters.slack.app import SLACK
from bot import cards
from bot.domain import Alert, AlertState, UserRef
from bot.registry import ChannelId, Registry, parse_registry
from tests.adapters import slack_standin, teams_standin
from tests.adapters.slack_standin import SlackStandIn
from tests.adapters.teams_standin import ConnectorStandIn
from tests.conftest import EXAMPLE, PEOPLE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
TOKEN = "intake-token-4c9e1f7a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DRAFTER_TEAMS = "19:drafter0000000000000000@thread.tacv2"
TEAMS_PEOPLE = {
    "29:alice": "alice@example.com",
    "29:bob": "bob@example.com",
    "29:dana": "dana@example.com",
}
PATHS = ("/alerts/alertmanager", "/alerts/grafana", "/alerts")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def registry_file(tmp_path: Path) -> Path:
    """The repository's example registry, with support-drafter claimed in Teams first."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["systems"]["support-drafter"]["channels"] = [{"teams": DRAFTER_TEAMS}, "C0ALERTS1"]
    path = tmp_path / "ownership.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def escalations_to(platform: InMemoryPlatform, user_id: str) -> list[Sent]:
    """Escalation direct messages only (the tick may send other digests too)."""
    return [d for d in platform.directs_to(user_id) if d.card.title.startswith("Escalation")]


@dataclass
class Bot:
    client: TestClient  # type: ignore[type-arg]
    runtime: Runtime
    slack: InMemoryPlatform
    teams: InMemoryPlatform
    clock: ManualClock

    async def send(
        self,
        path: str,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.client.post(
            path, data=data, headers=AUTH if headers is None else headers
        ) as response:
            return response.status, await response.json()

    async def alert(self, alert_id: int) -> Alert:
        async with self.runtime.store.transaction() as tx:
            found = await tx.alerts.get(alert_id=alert_id)
        assert found is not None
        return found

    async def open_alerts(self) -> list[Alert]:
        async with self.runtime.store.transaction() as tx:
            return await tx.alerts.unresolved()


Start = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Start the real app; `token=None` leaves the intake off."""
    clients: list[TestClient] = []  # type: ignore[type-arg]

    async def run(*, token: str | None = TOKEN, platforms: bool = True) -> Bot:
        settings = Settings(
            ownership_file=str(registry_file(tmp_path)),
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            alert_ingest_token=token,
            escalation_tick="1h",  # tests tick by hand
        )
        clock = ManualClock()
        runtime = await build_runtime(settings, clock=clock)
        slack = InMemoryPlatform(name="slack")
        for uid, email in PEOPLE.items():
            slack.add_user(uid, email)
        teams = InMemoryPlatform(name="teams")
        for uid, email in TEAMS_PEOPLE.items():
            teams.add_user(uid, email)
        app = build_app(runtime)
        # after the mounts (which add the real platforms they configure), before the start
        runtime.platforms.clear()
        if platforms:
            runtime.platforms["slack"] = slack
            runtime.platforms["teams"] = teams
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return Bot(client, runtime, slack, teams, clock)

    yield run
    for client in clients:
        await client.close()


# ---- the three formats ----------------------------------------------------------------------


async def test_alertmanager_group_claims_each_alert_on_its_own(start: Start) -> None:
    bot = await start()

    status, body = await bot.send("/alerts/alertmanager", fixture("alertmanager_firing.json"))

    assert status == 200
    first, second = body["alerts"]
    # labels.system names the system
    assert (first["system"], first["outcome"], first["claimed_for"]) == (
        "billing-router",
        "claimed",
        "alice",
    )
    assert first["claimed_for_name"] == "Alice Ng"
    assert first["channel"] == "slack:C0ALERTS1"
    assert first["fingerprint"] == "1a30ba71cca2921f"  # Alertmanager's own fingerprint
    assert first["posted"] is True
    # no system label: the registry's match rules read name, summary and description
    assert (second["system"], second["outcome"], second["claimed_for"]) == (
        "support-drafter",
        "claimed",
        "bob",
    )
    assert second["channel"] == f"teams:{DRAFTER_TEAMS}"
    assert second["also_in"] == ["slack:C0ALERTS1"]

    slack_claim, pointer = bot.slack.posts("post")
    assert slack_claim.channel == "C0ALERTS1"
    assert slack_claim.thread is None  # no chat message to reply to: a post of its own
    assert slack_claim.card.title == (
        "billing-router: BillingRouterErrorRate: 5xx ratio above 5% for 10 minutes"
    )
    assert slack_claim.card.mentioned()[0] == UserRef("slack", "U0ALICE01")
    assert slack_claim.card.action_ids() == (cards.ACK, cards.RESOLVE, cards.HAND_OFF)
    assert slack_claim.card.link is not None
    assert slack_claim.card.link.startswith("http://prometheus.example.com:9090/graph?")

    (teams_claim,) = bot.teams.posts("post")
    assert teams_claim.channel == DRAFTER_TEAMS
    assert teams_claim.card.title.startswith("support-drafter: DraftLatencyHigh")
    assert teams_claim.card.mentioned()[0] == UserRef("teams", "29:bob")
    assert cards.ACK in teams_claim.card.action_ids()

    # the system's other channel hears who holds it and where the claim is
    assert pointer.channel == "C0ALERTS1"
    assert pointer.card.mentioned() == (UserRef("slack", "U0BOB0002"),)
    assert DRAFTER_TEAMS in pointer.card.plain_text()
    assert pointer.card.buttons == ()

    stored = await bot.alert(first["alert_id"])
    assert (stored.system, stored.holder, stored.state) == ("billing-router", "alice", "open")
    assert stored.platform == "slack" and stored.claim is not None


async def test_escalation_runs_on_an_alert_taken_over_http(start: Start) -> None:
    bot = await start()
    _, body = await bot.send("/alerts/alertmanager", fixture("alertmanager_firing.json"))
    claim = bot.slack.posts("post")[0]

    bot.clock.advance(timedelta(minutes=10))
    report = await bot.runtime.service.tick()

    assert len(report.sent) == 1
    (dm,) = escalations_to(bot.slack, "U0BOB0002")  # billing-router's maintainer, after 10m
    assert "billing-router" in dm.card.plain_text()
    in_thread = [p for p in bot.slack.posts("post") if p.thread == claim.message.id]
    assert len(in_thread) == 1
    assert body["alerts"][0]["alert_id"] == (await bot.open_alerts())[0].id


async def test_alertmanager_resolved_payload_resolves_the_open_alert(start: Start) -> None:
    bot = await start()
    _, firing = await bot.send("/alerts/alertmanager", fixture("alertmanager_firing.json"))
    alert_id = firing["alerts"][0]["alert_id"]

    status, body = await bot.send("/alerts/alertmanager", fixture("alertmanager_resolved.json"))

    assert status == 200
    resolved, still_firing = body["alerts"]
    assert (resolved["outcome"], resolved["system"], resolved["claimed_for"]) == (
        "resolved",
        "billing-router",
        "alice",
    )
    assert resolved["alert_id"] == alert_id
    # the other alert of the group is the same notification again: taken once
    assert still_firing["outcome"] == "duplicate"
    alert = await bot.alert(alert_id)
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_by == "monitor"
    (update,) = bot.slack.posts("update")
    assert update.message.id == bot.slack.posts("post")[0].message.id
    assert "Resolved by monitor" in update.card.plain_text()
    assert update.card.action_ids() == ("alert.review",)  # resolved: only the Review button

    # resolved: the escalation map no longer runs
    bot.clock.advance(timedelta(hours=1))
    await bot.runtime.service.tick()
    assert escalations_to(bot.slack, "U0BOB0002") == []


async def test_grafana_payload_is_claimed_per_alert(start: Start) -> None:
    bot = await start()

    status, body = await bot.send("/alerts/grafana", fixture("grafana_firing.json"))

    assert status == 200
    drafter, router = body["alerts"]
    # matched by the rule 'draft(ing)? assistant' over the alert name
    assert (drafter["system"], drafter["outcome"], drafter["claimed_for"]) == (
        "support-drafter",
        "claimed",
        "bob",
    )
    assert drafter["fingerprint"] == "bc97ff14869b13e3"
    assert (router["system"], router["claimed_for"], router["channel"]) == (
        "billing-router",
        "alice",
        "slack:C0ALERTS1",
    )
    (teams_claim,) = bot.teams.posts("post")
    assert teams_claim.card.title == (
        "support-drafter: Drafting assistant refusal rate: Refusal rate above 10%"
    )
    assert teams_claim.card.link == "https://grafana.example.com/d/drafter01?orgId=1&viewPanel=4"
    router_claim = next(
        p for p in bot.slack.posts("post") if p.card.title.startswith("billing-router")
    )
    assert router_claim.card.link == (
        "https://grafana.example.com/alerting/grafana/1afz29v7z/view?orgId=1"
    )


async def test_grafana_resolved_payload_resolves(start: Start) -> None:
    bot = await start()
    await bot.send("/alerts/grafana", fixture("grafana_firing.json"))

    status, body = await bot.send("/alerts/grafana", fixture("grafana_resolved.json"))

    assert status == 200
    assert [a["outcome"] for a in body["alerts"]] == ["resolved", "resolved"]
    assert await bot.open_alerts() == []
    (teams_update,) = bot.teams.posts("update")
    assert "Resolved by monitor" in teams_update.card.plain_text()


async def test_generic_format_claims_and_resolves(start: Start) -> None:
    bot = await start()
    firing = fixture("generic_firing.json")

    status, body = await bot.send("/alerts", firing)

    assert status == 200
    (result,) = body["alerts"]
    assert (result["system"], result["outcome"], result["claimed_for"]) == (
        "billing-router",
        "claimed",
        "alice",
    )
    assert result["fingerprint"] == "nightly-eval-accuracy"
    (claim,) = bot.slack.posts("post")
    assert claim.card.title == (
        "billing-router: Nightly evaluation: routing accuracy below threshold"
    )
    assert claim.card.link == "https://ci.example.com/evals/runs/4711"

    status, body = await bot.send("/alerts", {**firing, "status": "resolved"})

    assert status == 200
    assert body["alerts"][0]["outcome"] == "resolved"
    assert await bot.open_alerts() == []


async def test_generic_format_matches_rules_when_no_system_is_given(start: Start) -> None:
    bot = await start()

    status, body = await bot.send(
        "/alerts",
        {
            "title": "Drafting assistant answers in the wrong language",
            "text": "12 drafts in German for English tickets since 08:00.",
            "status": "firing",
        },
    )

    assert status == 200
    assert (body["alerts"][0]["system"], body["alerts"][0]["claimed_for"]) == (
        "support-drafter",
        "bob",
    )
    assert len(bot.teams.posts("post")) == 1


# ---- repeats and retries ----------------------------------------------------------------------


async def test_retried_delivery_is_taken_once(start: Start) -> None:
    bot = await start()
    payload = fixture("alertmanager_firing.json")
    await bot.send("/alerts/alertmanager", payload)

    status, body = await bot.send("/alerts/alertmanager", payload)

    assert status == 200
    assert [a["outcome"] for a in body["alerts"]] == ["duplicate", "duplicate"]
    assert body["alerts"][0]["system"] == "billing-router"
    assert len(bot.slack.posts("post")) == 2  # one claim and one pointer, not more
    assert len(bot.teams.posts("post")) == 1
    assert [a.repeats for a in await bot.open_alerts()] == [0, 0]


async def test_same_alert_again_while_open_is_counted_not_claimed(start: Start) -> None:
    bot = await start()
    payload = fixture("alertmanager_firing.json")
    _, first = await bot.send("/alerts/alertmanager", payload)
    again = copy.deepcopy(payload)
    again["alerts"] = [again["alerts"][0]]
    # the same alert (same fingerprint) fired anew while the bot's alert is still open
    again["alerts"][0]["startsAt"] = "2026-11-02T09:30:00Z"

    status, body = await bot.send("/alerts/alertmanager", again)

    assert status == 200
    (result,) = body["alerts"]
    assert (result["outcome"], result["claimed_for"]) == ("repeat", "alice")
    assert result["alert_id"] == first["alerts"][0]["alert_id"]
    assert (await bot.alert(result["alert_id"])).repeats == 1
    assert len(bot.slack.posts("post")) == 2  # no second claim
    await bot.runtime.service.tick()  # repeats are redrawn together by the next tick
    (update,) = bot.slack.posts("update")
    assert ("Repeats", "1") in update.card.fields

    # the same again is a retry of that delivery: not counted twice
    _, body = await bot.send("/alerts/alertmanager", again)
    assert body["alerts"][0]["outcome"] == "duplicate"
    assert (await bot.alert(result["alert_id"])).repeats == 1


async def test_generic_id_makes_a_retry_count_once(start: Start) -> None:
    bot = await start()
    with_id = {**fixture("generic_firing.json"), "id": "eval-run-4711"}
    await bot.send("/alerts", with_id)
    _, retried = await bot.send("/alerts", with_id)
    assert retried["alerts"][0]["outcome"] == "duplicate"

    # without an id every POST is a new delivery: counted on the open alert
    without_id = fixture("generic_firing.json")
    _, repeat = await bot.send("/alerts", without_id)

    assert repeat["alerts"][0]["outcome"] == "repeat"
    (alert,) = await bot.open_alerts()
    assert alert.repeats == 1
    assert len(bot.slack.posts("post")) == 1


# ---- unowned -------------------------------------------------------------------------------------


async def test_unowned_alert_goes_to_the_fallback_owner_of_the_first_watched_channel(
    start: Start,
) -> None:
    bot = await start()

    status, body = await bot.send("/alerts/alertmanager", fixture("alertmanager_unowned.json"))

    assert status == 200
    (result,) = body["alerts"]
    assert result["system"] is None
    assert (result["outcome"], result["claimed_for"], result["claimed_for_name"]) == (
        "unowned",
        "dana",
        "Dana Wu",
    )
    assert result["channel"] == "slack:C0ALERTS1"
    assert "no system matched" in result["note"]
    assert "fallback owner of slack:C0ALERTS1, Dana Wu" in result["note"]
    (claim,) = bot.slack.posts("post")
    assert claim.channel == "C0ALERTS1"
    assert claim.card.title == "unowned: DiskAlmostFull: Disk almost full on db-replica-2"
    assert "Claimed for Dana Wu (fallback owner)" in claim.card.plain_text()
    assert claim.card.mentioned()[0] == UserRef("slack", "U0DANA004")
    stored = await bot.alert(result["alert_id"])
    assert (stored.system, stored.holder) == (None, "dana")


async def test_unknown_system_label_is_reported_and_the_alert_still_held(start: Start) -> None:
    bot = await start()

    _, body = await bot.send(
        "/alerts",
        {"system": "biling-router", "title": "Queue depth high", "text": "", "status": "firing"},
    )

    (result,) = body["alerts"]
    assert (result["outcome"], result["claimed_for"]) == ("unowned", "dana")
    hint = "'biling-router' is not in the registry (did you mean billing-router?)"
    assert hint in result["note"]


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "wrong", "longer", "basic-scheme", "no-scheme", "empty"],
)
async def test_wrong_or_missing_token_is_401_and_nothing_happens(
    start: Start, headers: dict[str, str]
) -> None:
    bot = await start()
    for path in PATHS:
        payload = fixture("generic_firing.json" if path == "/alerts" else "grafana_firing.json")
        status, body = await bot.send(path, payload, headers=headers)
        assert status == 401
        assert body == {"error": "missing or wrong bearer token"}
    assert await bot.open_alerts() == []
    assert bot.slack.sent == [] and bot.teams.sent == []


async def test_401_says_how_to_authenticate(start: Start) -> None:
    bot = await start()
    async with bot.client.post("/alerts", data=b"{}") as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="alerts"'


@pytest.mark.parametrize("token", [None, "", "   "])
async def test_without_a_token_the_intake_is_off(
    start: Start, token: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.intake")
    bot = await start(token=token)

    for path in PATHS:
        async with bot.client.post(path, json=fixture("generic_firing.json"), headers=AUTH) as r:
            assert r.status == 404
    assert any("alert intake off" in m for m in caplog.messages)
    assert await bot.open_alerts() == []


async def test_body_over_one_mebibyte_is_413(start: Start) -> None:
    bot = await start()
    payload = json.dumps(fixture("generic_firing.json")).encode()
    too_big = payload + b" " * (MAX_BODY + 1 - len(payload))

    status, body = await bot.send("/alerts", too_big)

    assert status == 413
    assert "larger than 1048576 bytes" in body["error"]
    assert await bot.open_alerts() == []


async def test_chunked_body_over_one_mebibyte_is_413(start: Start) -> None:
    bot = await start()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "x", "text": "'
        for _ in range(17):
            yield b"a" * 65536  # no Content-Length: the limit holds while streaming
        yield b'", "status": "firing"}'

    async with bot.client.post("/alerts", data=chunks(), headers=AUTH) as response:
        assert response.status == 413
    assert await bot.open_alerts() == []


async def test_body_of_exactly_one_mebibyte_is_taken(start: Start) -> None:
    bot = await start()
    payload = json.dumps(fixture("generic_firing.json")).encode()
    exact = payload + b" " * (MAX_BODY - len(payload))
    assert len(exact) == MAX_BODY

    status, body = await bot.send("/alerts", exact)

    assert status == 200
    assert body["alerts"][0]["outcome"] == "claimed"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/alerts/alertmanager", b"{not json"),
        ("/alerts/alertmanager", b""),
        ("/alerts/grafana", b'{"alerts": ['),
        ("/alerts", b"\x80\x81 not utf-8"),
        ("/alerts", b"[" * 100_000),
    ],
    ids=["broken", "empty", "truncated", "not-utf8", "deeply-nested"],
)
async def test_invalid_json_is_400(start: Start, path: str, body: bytes) -> None:
    bot = await start()

    status, answer = await bot.send(path, body)

    assert status == 400
    assert answer["field"] == "(body)"
    assert "not valid JSON" in answer["error"]
    assert await bot.open_alerts() == []


def _am(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    payload = fixture("alertmanager_firing.json")
    change(payload)
    return payload


def _grafana(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    payload = fixture("grafana_firing.json")
    change(payload)
    return payload


def _generic(**changes: Any) -> dict[str, Any]:
    payload = fixture("generic_firing.json")
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        (
            "/alerts/alertmanager",
            _am(lambda p: p["alerts"][0].update(status="exploded")),
            "alerts.0.status",
        ),
        ("/alerts/alertmanager", _am(lambda p: p["alerts"][1].pop("labels")), "alerts.1.labels"),
        ("/alerts/alertmanager", _am(lambda p: p.update(version="1")), "version"),
        ("/alerts/alertmanager", _am(lambda p: p.pop("version")), "version"),
        ("/alerts/alertmanager", _am(lambda p: p.update(alerts=[])), "alerts"),
        ("/alerts/alertmanager", _am(lambda p: p.update(alerts={"a": 1})), "alerts"),
        ("/alerts/alertmanager", [fixture("alertmanager_firing.json")], "(body)"),
        (
            "/alerts/grafana",
            _grafana(lambda p: p["alerts"][0].pop("startsAt")),
            "alerts.0.startsAt",
        ),
        (
            "/alerts/grafana",
            _grafana(lambda p: p["alerts"][1]["labels"].update(team=7)),
            "alerts.1.labels.team",
        ),
        ("/alerts", _generic(title=None), "title"),
        ("/alerts", _generic(title="   "), "title"),
        ("/alerts", _generic(status="ok"), "status"),
        ("/alerts", _generic(severity="critical"), "severity"),
        ("/alerts", _generic(link="javascript:alert(1)"), "link"),
        ("/alerts", _generic(fingerprint="f" * 65), "fingerprint"),
        ("/alerts", "just a string", "(body)"),
    ],
    ids=[
        "am-status",
        "am-labels-missing",
        "am-version-1",
        "am-version-missing",
        "am-no-alerts",
        "am-alerts-not-list",
        "am-body-list",
        "grafana-startsAt-missing",
        "grafana-label-not-string",
        "generic-title-missing",
        "generic-title-blank",
        "generic-status",
        "generic-unknown-field",
        "generic-link-scheme",
        "generic-fingerprint-too-long",
        "generic-body-string",
    ],
)
async def test_wrong_shape_is_400_naming_the_field(
    start: Start, path: str, payload: Any, field: str
) -> None:
    bot = await start()

    status, body = await bot.send(path, payload)

    assert status == 400
    assert body["field"] == field
    assert body["error"].startswith(f"{field}: ")
    assert await bot.open_alerts() == []
    assert bot.slack.sent == [] and bot.teams.sent == []


async def test_no_chat_platform_is_503_and_nothing_is_stored(start: Start) -> None:
    bot = await start(platforms=False)

    status, body = await bot.send("/alerts/alertmanager", fixture("alertmanager_firing.json"))

    assert status == 503
    assert "nothing was stored" in body["error"]
    assert await bot.open_alerts() == []


async def test_storage_failure_is_503_so_the_sender_delivers_again(start: Start) -> None:
    bot = await start()
    async with bot.runtime.store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE seen_event"))

    status, body = await bot.send("/alerts/alertmanager", fixture("alertmanager_firing.json"))

    assert status == 503
    assert body["error"] == "storage failed; deliver again"
    # no claim posted (the start-up stale-ownership scan may send its digests meanwhile)
    assert bot.slack.posts("post") == [] and bot.teams.posts("post") == []


async def test_claim_post_failure_still_answers_200_and_the_scheduler_posts_it(
    start: Start,
) -> None:
    bot = await start()
    bot.slack.fail_posts = 1

    status, body = await bot.send("/alerts", fixture("generic_firing.json"))

    assert status == 200
    assert (body["alerts"][0]["outcome"], body["alerts"][0]["posted"]) == ("claimed", False)
    assert bot.slack.posts("post") == []
    bot.clock.advance(timedelta(minutes=1))  # past the posting lease
    report = await bot.runtime.service.tick()
    assert report.claims_posted == [body["alerts"][0]["alert_id"]]
    assert len(bot.slack.posts("post")) == 1


# ---- where an alert goes when platforms are missing (pure) --------------------------------------

ROUTING_REGISTRY = """
version: 1
people:
  ann: {name: Ann Lee, email: ann@example.com}
  ben: {name: Ben Ode, email: ben@example.com}
  cy: {name: Cy Park, email: cy@example.com}
channels: CHANNELS
systems:
  scorer:
    operator: ann
    maintainer: ben
    steward: cy
    match: [scorer]
    channels: [{teams: "19:scorer@thread.tacv2"}]
"""


def _routing(channels: str) -> Registry:
    return parse_registry(ROUTING_REGISTRY.replace("CHANNELS", channels), source="test.yaml")


def _incoming(text: str, *, system: str | None = None) -> IncomingAlert:
    return IncomingAlert("generic", text, text, "firing", None, system=system)


def test_a_system_without_a_channel_on_a_configured_platform_is_claimed_in_a_watched_one() -> None:
    registry = _routing("[{slack: C0WATCH, fallback: cy}]")

    where = route(registry, _incoming("scorer drift"), platforms={"slack"})

    assert where is not None
    assert where.system is not None and where.system.id == "scorer"
    assert where.channel == ChannelId("slack", "C0WATCH")
    assert where.note is not None and "no channel on a configured platform" in where.note
    # with Teams configured the system's own channel wins
    own = route(registry, _incoming("scorer drift"), platforms={"slack", "teams"})
    assert own is not None and own.channel == ChannelId("teams", "19:scorer@thread.tacv2")


def test_unowned_alert_skips_watched_channels_on_missing_platforms() -> None:
    registry = _routing(
        "[{teams: '19:first@thread.tacv2', fallback: ann}, {slack: C0B, fallback: ben}]"
    )

    where = route(registry, _incoming("disk full"), platforms={"slack"})

    assert where is not None and where.system is None
    assert where.channel == ChannelId("slack", "C0B")
    assert where.note is not None and "fallback owner of slack:C0B, Ben Ode" in where.note


def test_unowned_alert_without_watched_channels_says_nobody_owns_it() -> None:
    registry = _routing("[]")

    where = route(registry, _incoming("disk full"), platforms={"teams"})

    assert where is not None and where.system is None
    assert where.channel == ChannelId("teams", "19:scorer@thread.tacv2")
    assert where.note is not None and "nobody owns it" in where.note
    assert route(registry, _incoming("disk full"), platforms=set()) is None


# ---- the claim at the real platform clients: Slack Web API and Teams connector stand-ins ----


def _clear_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SLACK_APP_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "TEAMS_APP_ID",
        "TEAMS_APP_PASSWORD",
        "ALERT_INGEST_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


async def test_intake_claim_arrives_at_the_slack_standin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_platform_env(monkeypatch)
    standin = SlackStandIn()
    await standin.start()
    settings = Settings(
        ownership_file=str(EXAMPLE),
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        slack_bot_token=slack_standin.BOT_TOKEN,
        slack_signing_secret=slack_standin.SIGNING_SECRET,
        slack_api_url=standin.api_url,
        alert_ingest_token=TOKEN,
        escalation_tick="1h",
        stale_scan_cron="0 3 1 1 *",
    )
    runtime = await build_runtime(settings, clock=ManualClock())
    app = build_app(runtime)
    app[SLACK].platform.pacer.interval = 0.0
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        firing = fixture("alertmanager_firing.json")
        firing["alerts"] = firing["alerts"][:1]
        async with client.post("/alerts/alertmanager", json=firing, headers=AUTH) as response:
            assert response.status == 200
            (result,) = (await response.json())["alerts"]
        assert (result["system"], result["claimed_for"], result["posted"]) == (
            "billing-router",
            "alice",
            True,
        )

        # the real slack_sdk client posted the claim: a message of its own, not a reply
        (claim,) = standin.posts(slack_standin.ALERTS)
        assert not claim.args.get("thread_ts")
        assert "<@U0ALICE01>" in claim.args["text"]
        blocks = claim.args["blocks"]
        assert [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]][
            :2
        ] == [cards.ACK, cards.RESOLVE]
        assert claim.answer["ts"]

        resolved = fixture("alertmanager_resolved.json")
        resolved["alerts"] = resolved["alerts"][:1]
        async with client.post("/alerts/alertmanager", json=resolved, headers=AUTH) as response:
            assert (await response.json())["alerts"][0]["outcome"] == "resolved"
        (update,) = standin.calls_to("chat.update")
        assert update.args["ts"] == claim.answer["ts"]
        assert standin.message(slack_standin.ALERTS, claim.answer["ts"])["edited"] is True
    finally:
        await client.close()
        await standin.close()


async def test_intake_claim_arrives_at_the_teams_connector_standin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_platform_env(monkeypatch)
    connector = ConnectorStandIn()
    await connector.start()
    registry = tmp_path / "ownership.yaml"
    registry.write_text(teams_standin.REGISTRY.replace("{python}", json.dumps(sys.executable)))
    settings = Settings(
        ownership_file=str(registry),
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        alert_ingest_token=TOKEN,
        teams_dev_anonymous=True,  # the Emulator's mode: the stand-in is on this machine
        escalation_tick="1h",
        stale_scan_cron="0 3 1 1 *",
    )
    runtime = await build_runtime(settings, clock=ManualClock())
    client = TestClient(TestServer(build_app(runtime), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        # the app was added to the team: that is how the bot learns where Teams is
        installed = teams_standin.team_installed(connector.service_url, teams_standin.CAROL)
        async with client.post("/api/messages", json=installed) as response:
            assert response.status == 200

        status, body = await _post(client, "/alerts", fixture("generic_firing.json"))

        assert status == 200
        (result,) = body["alerts"]
        assert (result["system"], result["claimed_for"], result["posted"]) == (
            "billing-router",
            "alice",
            True,
        )
        assert result["channel"] == f"teams:{teams_standin.ALERTS}"
        (claim,) = connector.messages(teams_standin.ALERTS)
        card = teams_standin.card_of(claim)
        assert teams_standin.verbs(card) == [cards.ACK, cards.RESOLVE, cards.HAND_OFF]
        shown = teams_standin.card_text(card)
        assert "Claimed for <at>Alice Ng</at> (operator)" in shown
        mentioned = {e["mentioned"]["id"] for e in card["msteams"]["entities"]}
        assert teams_standin.ALICE.aad in mentioned
    finally:
        await client.close()
        await connector.stop()


async def _post(client: TestClient, path: str, body: Any) -> tuple[int, dict[str, Any]]:  # type: ignore[type-arg]
    async with client.post(path, json=body, headers=AUTH) as response:
        return response.status, await response.json()
