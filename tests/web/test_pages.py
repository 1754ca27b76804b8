"""What the pages show, from a record the real service made: roles and stale flags, filters
at scale, who was told and what comes next, the evidence chain, the registry check and the
published map. Real store, real HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from adapters.fake import ManualClock
from adapters.web.console import Console
from bot.diagnostics import escalation_map
from bot.registry import Registry, parse_registry
from store.database import SqlStore
from tests.web.support import build_console, make_service, seed, sign_in

BENCH_REGISTRY = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
async def signed_in(
    store: SqlStore, registry: Registry, clock: ManualClock
) -> AsyncIterator[tuple[TestClient, Console, dict[str, int]]]:
    ids = await seed(make_service(store, registry, clock), clock)
    app, console, _ = build_console(store, registry, clock)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, console, "carol")
        yield client, console, ids


async def page(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    body = await response.text()
    assert response.status == status, (path, body[:2000])
    return body


def words(html: str) -> str:
    """The page's text, tags dropped and whitespace folded."""
    folded = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    return re.sub(r" ([),.])", r"\1", folded)


def entries(html: str) -> str:
    """The evidence page's timeline, after its filter form."""
    return words(html).split("Filter Clear", 1)[1]


async def test_systems_page_shows_roles_confirmations_and_alerts(
    signed_in: tuple[TestClient, Console, dict[str, int]],
) -> None:
    client, _, _ = signed_in
    body = words(await page(client, "/"))
    assert "billing-router Billing ticket router Alice Ng confirmed 2026-11-02 09:11 UTC" in body
    assert "Bob Ruiz stale: never confirmed" in body
    row = body.split("billing-router Billing ticket router")[1].split("support-drafter")[0]
    # one open (the escalated alert; the other was resolved), and 2 of its 3 alerts this
    # week were exceptions (escalated; unowned in its channel): above its 30% threshold
    assert "running review needed 1 open" in row
    # support-drafter shares the channel of the unowned alert: 1 exception in 2, crossed too
    assert "running review needed 1 open" in body.split("support-drafter Support reply")[1]
    assert "1 unowned open alert" in body


async def test_systems_filter_and_search(
    signed_in: tuple[TestClient, Console, dict[str, int]],
) -> None:
    client, _, _ = signed_in
    assert "1 system matches" in words(await page(client, "/?q=drafter"))
    assert "billing-router" not in words(await page(client, "/?q=drafter")).split("match")[1]
    only_bob = words(await page(client, "/?person=bob"))
    assert "support-drafter" in only_bob
    stale = words(await page(client, "/?flag=stale"))
    assert "billing-router" in stale  # only the operator confirmed
    opened = words(await page(client, "/?flag=open"))
    assert "billing-router" in opened and "support-drafter" in opened
    none = words(await page(client, "/?flag=stopped"))
    assert "0 systems match" in none and "No system matches this filter." in none
    # Anything odd in the URL falls back to no filter, never an error.
    await page(client, "/?flag=%00&page=-3&q=" + "x" * 5000)


async def test_system_page(signed_in: tuple[TestClient, Console, dict[str, int]]) -> None:
    client, _, ids = signed_in
    body = words(await page(client, "/systems/billing-router"))
    assert "Only Carol Diaz may stop or resume this system" in body
    assert "rollout gate Bob Ruiz Carol Diaz Bob Ruiz Alice Ng, Dana Wu" in body
    assert "Purpose Route each inbound billing ticket to the right queue" in body
    assert "Review needed: exception rate crossed its threshold" in body
    assert "Review when: ack p50 10m, ack p90 30m, exception rate 30%" in body
    assert "0s operator Alice Ng alice@example.com" in body
    assert "10m maintainer Bob Ruiz bob@example.com" in body
    assert "2d step 3 Dana Wu dana@example.com" in body
    assert f"#{ids['escalated']} billing-router p99 latency 2.3s" in body
    assert f"#{ids['resolved']} billing-router routing model drift" in body
    assert "alert.escalated" in body or "escalation" in body
    assert "role.confirmed by Alice Ng" in body
    missing = await client.get("/systems/no-such-system")
    assert missing.status == 404


async def test_open_alerts_say_who_was_told_and_what_comes_next(
    signed_in: tuple[TestClient, Console, dict[str, int]],
) -> None:
    client, _, ids = signed_in
    body = words(await page(client, "/open-alerts"))
    assert "4 alerts" not in body and "3 alerts." in body
    # The escalated alert: the operator at the claim, the maintainer at 10 minutes; next the
    # steward at 30 minutes, due 19 minutes from now (the clock stands at 11 minutes).
    assert (
        f"#{ids['escalated']} billing-router p99 latency 2.3s billing-router open Alice Ng" in body
    )
    assert "Bob Ruiz (maintainer, 2026-11-02 09:11 UTC)" in body
    assert "Carol Diaz (steward) due 2026-11-02 09:30 UTC, in 19m" in body
    assert "acknowledged by Bob Ruiz" in body and "none: acknowledged" in body
    assert "unowned" in body
    only_open = words(await page(client, "/open-alerts?state=open"))
    assert "2 alerts." in only_open
    unowned = words(await page(client, "/open-alerts?system=-"))
    assert "1 alert." in unowned and "disk full" in unowned
    by_holder = words(await page(client, "/open-alerts?holder=bob"))
    assert "1 alert." in by_holder


async def test_user_text_is_escaped(signed_in: tuple[TestClient, Console, dict[str, int]]) -> None:
    client, _, _ = signed_in
    html = await page(client, "/open-alerts")
    assert "&lt;b&gt;refusals&lt;/b&gt;" in html and "<b>refusals" not in html


async def test_evidence_timeline_filters_and_chain(
    signed_in: tuple[TestClient, Console, dict[str, int]], store: SqlStore, clock: ManualClock
) -> None:
    client, console, ids = signed_in
    body = words(await page(client, "/evidence"))
    assert "The hash chain verifies:" in body
    acks = entries(await page(client, "/evidence?action=alert.acknowledged"))
    assert "alert.acknowledged by Bob Ruiz" in acks and "alert.resolved" not in acks
    by_alert = entries(await page(client, f"/evidence?alert={ids['resolved']}"))
    assert "alert.resolved by Alice Ng" in by_alert and "alert.acknowledged" not in by_alert
    assert "role.confirmed" in words(await page(client, "/evidence?actor=alice"))
    assert "No evidence recorded" in await page(client, "/evidence?since=2030-01-01")
    await page(client, "/evidence?since=not-a-day&before=abc&alert=" + "9" * 40)
    # Edit an entry behind the bot's back: the page says so once its last check is stale.
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2"))
    clock.advance(timedelta(seconds=61))
    stale = words(await page(client, "/evidence"))  # answers from the last walk, starts one
    assert "The hash chain verifies:" in stale
    await console.store.settled()
    broken = words(await page(client, "/evidence"))
    assert "The hash chain does not verify. Entry 2: content does not match its hash" in broken


async def test_evidence_pages_back_in_time(
    store: SqlStore, registry: Registry, clock: ManualClock
) -> None:
    async with store.transaction() as tx:
        for i in range(120):
            await tx.evidence.append(
                at=clock.now(),
                actor="alice",
                action="note",
                system="billing-router",
                alert_id=None,
                detail={"n": i},
            )
    app, console, _ = build_console(store, registry, clock)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, console, "alice")
        first = await page(client, "/evidence")
        assert "#120 ·" in first and "#71 ·" in first and "#70 ·" not in first
        older = re.search(r'href="\?([^"]*before=71)"', first)
        assert older is not None
        second = await page(client, "/evidence?" + unescape(older.group(1)))
        assert "#70 ·" in second and "#21 ·" in second and "#71 ·" not in second


async def test_registry_page_says_what_check_says_with_lines(
    store: SqlStore, registry: Registry, clock: ManualClock, tmp_path: Path
) -> None:
    broken = tmp_path / "ownership.yaml"
    source = Path(registry.source).read_text()
    broken.write_text(source.replace("operator: alice", "operator: the team", 1))
    app, console, _ = build_console(store, registry, clock, registry_path=broken)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, console, "alice")
        body = words(await page(client, "/registry"))
        line = source.splitlines().index("    operator: alice") + 1
        assert "1 error:" in body
        assert f"{line} billing-router operator 'the team' is not a person" in body
        report = await page(client, "/registry.txt")
        assert f"{broken}:{line}: error: system 'billing-router' field 'operator'" in report
        # Fixed on disk: the page follows the file.
        broken.write_text(source + "\n")
        body = words(await page(client, "/registry"))
        assert "No errors: 2 systems" in body


async def test_registry_warnings_page_through(
    store: SqlStore, clock: ManualClock, tmp_path: Path
) -> None:
    from bench.common import registry_yaml

    path = tmp_path / "big.yaml"
    path.write_text(registry_yaml(150))  # two governance warnings per system: 300
    registry = parse_registry(path.read_text(), source=str(path))
    app, console, _ = build_console(store, registry, clock, registry_path=path)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, console, "p1")
        first = words(await page(client, "/registry"))
        assert "No errors: 150 systems, 300 warnings." in first and "Next →" in first
        second = words(await page(client, "/registry?page=2"))
        assert "sys-149" in second and "Next →" not in second


async def test_the_published_map_is_the_markdown_map(
    signed_in: tuple[TestClient, Console, dict[str, int]], registry: Registry
) -> None:
    client, _, _ = signed_in
    markdown = await page(client, "/map.md")
    assert markdown == escalation_map(registry, registry.systems.values(), fmt="md")
    html = words(await page(client, "/map"))
    for line in markdown.splitlines():
        if line.startswith("| ") and "---" not in line and "after |" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert " ".join(cells) in html, line
        elif line.startswith("## "):
            assert line[3:] in html
        elif line.startswith("Stop authority"):
            assert line in html


def big_registry(systems: int) -> Registry:
    from bench.common import registry_yaml

    return parse_registry(registry_yaml(systems), source="generated.yaml")


async def test_filters_page_through_many_systems(store: SqlStore, clock: ManualClock) -> None:
    registry = big_registry(1200)
    app, console, _ = build_console(store, registry, clock)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, console, "p1")
        body = words(await page(client, "/"))
        assert "1200 systems match, page 1 of 24" in body
        last = words(await page(client, "/?page=24"))
        assert "page 24 of 24" in last and "Next →" not in last
        beyond = words(await page(client, "/?page=999"))
        assert "page 24 of 24" in beyond
        found = words(await page(client, "/?q=sys-1199"))
        assert "1 system matches" in found
        person = words(await page(client, "/?person=p5"))
        assert "3 systems match" in person  # p5 is maintainer, operator... of three systems


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/", "/open-alerts", "/evidence", "/systems/billing-router", "/map"]),
    params=st.dictionaries(
        st.sampled_from(
            [
                "q",
                "person",
                "flag",
                "page",
                "system",
                "holder",
                "state",
                "actor",
                "action",
                "alert",
                "since",
                "until",
                "before",
            ]
        ),
        st.text(max_size=300),
        max_size=5,
    ),
)
async def test_no_query_string_breaks_a_page(
    signed_in: tuple[TestClient, Console, dict[str, int]], path: str, params: dict[str, str]
) -> None:
    client, _, _ = signed_in
    response = await client.get(path, params=params)
    assert response.status == 200
