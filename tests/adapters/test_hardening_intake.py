"""Issue 11 regressions on the HTTP alert intake (items 4, 5 and 10): hostile or broken bytes
are a 4xx, never a 500 or a 503 that a retrying sender would repeat forever; one bad alert
never costs the others of its group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.hostile import AUTH, Served, postgres_url, raw_request, served

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
GROUP = json.loads((FIXTURES / "alertmanager_firing.json").read_text())


def _group(*alerts: dict[str, Any]) -> bytes:
    body = dict(GROUP, alerts=list(alerts))
    return json.dumps(body).encode()


def _alert(name: str, **labels: str) -> dict[str, Any]:
    """A firing Alertmanager alert without a fingerprint (older senders omit it)."""
    return {
        "status": "firing",
        "labels": {"alertname": name, "system": "billing-router", **labels},
        "annotations": {"summary": f"{name} fired"},
        "startsAt": "2026-11-02T08:52:26Z",
    }


@pytest.fixture
async def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    async with served(tmp_path, monkeypatch) as running:
        yield running


@pytest.mark.parametrize("value", [b"Bearer \xe9\xff", b"\xc3(", b"Bearer intake-\x80"])
async def test_non_utf8_authorization_header_is_401(bot: Served, value: bytes) -> None:
    body = _group(_alert("Anything"))
    request = (
        b"POST /alerts/alertmanager HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nAuthorization: " + value + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    status, _ = await raw_request(bot.host, bot.port, request)

    assert status == 401
    assert await bot.open_alerts() == []
    await bot.assert_healthy()


@pytest.mark.parametrize("path", ["/alerts/alertmanager", "/alerts/grafana", "/alerts"])
@pytest.mark.parametrize("depth", [40, 1000, 100_000])
async def test_deeply_nested_body_is_400(bot: Served, path: str, depth: int) -> None:
    body = b'{"a":' * depth + b"1" + b"}" * depth

    status, text = await bot.post(path, body, headers=AUTH)

    assert status == 400, text
    assert "nested" in json.loads(text)["error"]
    await bot.assert_healthy()


async def test_deep_nesting_inside_labels_is_400(bot: Served) -> None:
    alert = json.dumps(_alert("Deep")).replace(
        '"labels": {', '"labels": {"extra": ' + "[" * 2000 + "]" * 2000 + ", ", 1
    )
    body = '{"version": "4", "alerts": [' + alert + "]}"
    status, text = await bot.post("/alerts/alertmanager", body.encode(), headers=AUTH)
    assert status == 400, text
    await bot.assert_healthy()


async def test_lone_surrogate_in_labels_without_fingerprint_is_taken(bot: Served) -> None:
    # a sender that cut an emoji in half: "\ud83d" alone is not encodable
    body = (
        b'{"version": "4", "status": "firing", "alerts": [{"status": "firing",'
        b' "labels": {"alertname": "RouterDrift\\ud83d", "system": "billing-router",'
        b' "pod": "\\udca9-0"}, "annotations": {"summary": "drift \\ud83d"},'
        b' "startsAt": "2026-11-02T08:52:26Z"}]}'
    )

    status, text = await bot.post("/alerts/alertmanager", body, headers=AUTH)

    assert status == 200, text
    (taken,) = json.loads(text)["alerts"]
    assert taken["outcome"] == "claimed"
    assert "\ufffd" in taken["title"]
    # the same bytes again are the same delivery: taken once
    status, text = await bot.post("/alerts/alertmanager", body, headers=AUTH)
    assert json.loads(text)["alerts"][0]["outcome"] == "duplicate"
    await bot.assert_healthy()


async def _bad_alert_does_not_cost_the_group(bot: Served) -> None:
    bad = _alert("RouterNul\u0000Drift", pod="a\u0000b")
    bad["annotations"]["description"] = "cut emoji \ud83d and NUL \u0000 here"
    body = _group(_alert("RouterFirst"), bad, _alert("RouterLast"))

    status, text = await bot.post("/alerts/alertmanager", body, headers=AUTH)

    assert status == 200, text
    outcomes = [a["outcome"] for a in json.loads(text)["alerts"]]
    assert outcomes == ["claimed", "claimed", "claimed"]
    titles = sorted(a.title for a in await bot.open_alerts())
    assert titles == [
        "RouterFirst: RouterFirst fired",
        "RouterLast: RouterLast fired",
        "RouterNulDrift: RouterNulDrift fired",
    ]
    # the redelivery a sender makes after any error is a duplicate, not a new alert
    status, text = await bot.post("/alerts/alertmanager", body, headers=AUTH)
    assert status == 200
    assert {a["outcome"] for a in json.loads(text)["alerts"]} == {"duplicate"}
    await bot.settle()
    await bot.assert_healthy()


async def test_nul_and_surrogates_in_one_alert_do_not_cost_the_group_sqlite(bot: Served) -> None:
    await _bad_alert_does_not_cost_the_group(bot)


@pytest.mark.postgres
async def test_nul_and_surrogates_in_one_alert_do_not_cost_the_group_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL refuses NUL in text: before the fix this group answered 503 on every retry
    async with postgres_url() as url, served(tmp_path, monkeypatch, database_url=url) as bot:
        await _bad_alert_does_not_cost_the_group(bot)


async def test_generic_alert_with_nul_and_surrogate_is_taken(bot: Served) -> None:
    body = (
        b'{"title": "billing-router \\u0000 latency \\udc00", "text": "x\\u0000y",'
        b' "status": "firing", "id": "d\\u0000\\ud800"}'
    )
    status, text = await bot.post("/alerts", body, headers=AUTH)
    assert status == 200, text
    assert json.loads(text)["alerts"][0]["outcome"] == "claimed"
    await bot.assert_healthy()
