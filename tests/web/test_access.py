"""Who may see the console: sessions from one-time links, refused links, forged cookies, and
the loopback-only open mode. Real store (SQLite and PostgreSQL), real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from adapters.fake import ManualClock
from adapters.web.console import Console
from bot.console_link import token_hash
from bot.registry import Registry
from store.database import SqlStore
from tests.web.support import Holder, build_console, link_for, sign_in

PAGES = [
    "/",
    "/systems/billing-router",
    "/open-alerts",
    "/evidence",
    "/registry",
    "/map",
    "/map.md",
]


_OPEN: list[TestClient] = []


@pytest.fixture
async def site(
    store: SqlStore, registry: Registry, clock: ManualClock
) -> AsyncIterator[tuple[TestServer, Console, Holder]]:
    app, console, holder = build_console(store, registry, clock)
    server = TestServer(app)
    await server.start_server()
    yield server, console, holder
    while _OPEN:
        await _OPEN.pop().close()
    await server.close()


async def browser(server: TestServer) -> TestClient:
    """A fresh browser (its own cookie jar) against the server, closed with the server."""
    client = TestClient(server)
    await client.start_server()
    _OPEN.append(client)
    return client


async def test_every_page_needs_a_session(site: tuple[TestServer, Console, Holder]) -> None:
    server, _, _ = site
    client = await browser(server)
    for path in PAGES:
        response = await client.get(path)
        assert response.status == 401, path
        body = await response.text()
        assert "Sign-in needed" in body and "/accountability console" in body
        assert "Billing ticket router" not in body and "Alice Ng" not in body
    assert (await client.get("/static/console.css")).status == 200


async def test_a_link_signs_in_once_with_a_strict_cookie(
    site: tuple[TestServer, Console, Holder],
) -> None:
    server, console, _ = site
    client = await browser(server)
    path = await link_for(console, "alice")
    # Opening the link (as a chat client's preview would) does not use it up.
    for _ in range(2):
        shown = await client.get(path)
        assert shown.status == 200
        assert "Sign in as Alice Ng" in await shown.text()
    used = await client.post(path, allow_redirects=False)
    assert used.status == 303 and used.headers["Location"] == "/"
    cookie = used.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie and "Secure" not in cookie
    assert used.headers["Referrer-Policy"] == "no-referrer"
    for page in PAGES:
        response = await client.get(page)
        assert response.status == 200, page
    home = await (await client.get("/")).text()
    assert "Signed in as <strong>Alice Ng</strong>" in home


async def test_the_cookie_is_secure_behind_https(
    store: SqlStore, registry: Registry, clock: ManualClock
) -> None:
    app, console, _ = build_console(store, registry, clock, public_url="https://bot.example.com")
    async with TestClient(TestServer(app)) as client:
        used = await client.post(await link_for(console, "alice"), allow_redirects=False)
        assert used.status == 303
        assert "Secure" in used.headers["Set-Cookie"]


async def test_a_used_link_is_refused_with_a_clear_page(
    site: tuple[TestServer, Console, Holder],
) -> None:
    server, console, _ = site
    first, second = await browser(server), await browser(server)
    path = await link_for(console, "alice")
    assert (await first.post(path, allow_redirects=False)).status == 303
    for method in (second.get, second.post):
        again = await method(path, allow_redirects=False)
        assert again.status == 410
        body = await again.text()
        assert "already used" in body and "/accountability console" in body
        assert "console_session" not in again.cookies
    assert (await second.get("/")).status == 401


async def test_an_expired_link_is_refused(
    site: tuple[TestServer, Console, Holder], clock: ManualClock
) -> None:
    server, console, _ = site
    client = await browser(server)
    fresh = await link_for(console, "alice")
    stale = await link_for(console, "bob")
    clock.advance(timedelta(minutes=9, seconds=59))
    assert (await client.post(fresh, allow_redirects=False)).status == 303
    await client.post("/sign-out")
    clock.advance(timedelta(seconds=1))  # exactly ten minutes
    for method in (client.get, client.post):
        response = await method(stale, allow_redirects=False)
        assert response.status == 410
        assert "has expired" in await response.text()
    assert (await client.get("/")).status == 401


async def test_another_persons_link_does_not_switch_a_signed_in_browser(
    site: tuple[TestServer, Console, Holder],
) -> None:
    server, console, _ = site
    bobs = await browser(server)
    await sign_in(bobs, console, "bob")
    alices_link = await link_for(console, "alice")
    for method in (bobs.get, bobs.post):
        response = await method(alices_link, allow_redirects=False)
        assert response.status == 409
        body = await response.text()
        assert "belongs to Alice Ng" in body and "signed in as Bob Ruiz" in body
    home = await (await bobs.get("/")).text()
    assert "Signed in as <strong>Bob Ruiz</strong>" in home
    # The refused attempts did not use Alice's link up: it still signs Alice in, as Alice.
    alices = await browser(server)
    assert (await alices.post(alices_link, allow_redirects=False)).status == 303
    assert "Signed in as <strong>Alice Ng</strong>" in await (await alices.get("/")).text()


async def test_a_link_signs_in_as_its_person_whatever_the_form_says(
    site: tuple[TestServer, Console, Holder],
) -> None:
    server, console, _ = site
    client = await browser(server)
    path = await link_for(console, "bob")
    used = await client.post(path, data={"person": "carol"}, allow_redirects=False)
    assert used.status == 303
    assert "Signed in as <strong>Bob Ruiz</strong>" in await (await client.get("/")).text()


@pytest.mark.parametrize(
    "cookie",
    [
        "x" * 43,
        "not a token",
        "",
        "A" * 5000,
        "\u00e9" * 43,
    ],
)
async def test_a_forged_cookie_is_no_session(
    site: tuple[TestServer, Console, Holder], cookie: str
) -> None:
    server, _, _ = site
    client = await browser(server)
    response = await client.get("/", headers={"Cookie": f"console_session={cookie}"})
    assert response.status in (400, 401)


async def test_neither_a_link_token_nor_a_hash_is_a_session(
    site: tuple[TestServer, Console, Holder], store: SqlStore
) -> None:
    server, console, _ = site
    client = await browser(server)
    path = await link_for(console, "alice")
    token = path.rsplit("/", 1)[1]
    session = await sign_in(client, console, "carol")
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT token_hash FROM console_link"))).all()
        rows += (await conn.execute(text("SELECT token_hash FROM console_session"))).all()
    stored = {r[0] for r in rows}
    # Only hashes are stored: a copy of the database signs nobody in.
    assert token not in stored and session not in stored
    assert token_hash(token) in stored and token_hash(session) in stored
    stranger = await browser(server)
    for forged in (token, token_hash(session)):
        response = await stranger.get("/", headers={"Cookie": f"console_session={forged}"})
        assert response.status == 401


async def test_sessions_end_on_sign_out_and_after_their_lifetime(
    site: tuple[TestServer, Console, Holder], clock: ManualClock
) -> None:
    server, console, _ = site
    client = await browser(server)
    session = await sign_in(client, console, "alice")
    out = await client.post("/sign-out")
    assert out.status == 200 and "Signed out" in await out.text()
    replay = await browser(server)
    response = await replay.get("/", headers={"Cookie": f"console_session={session}"})
    assert response.status == 401
    await sign_in(client, console, "alice")
    clock.advance(timedelta(hours=11, minutes=59))
    assert (await client.get("/")).status == 200
    clock.advance(timedelta(minutes=1))
    assert (await client.get("/")).status == 401


async def test_someone_removed_from_the_registry_loses_the_console(
    site: tuple[TestServer, Console, Holder], registry: Registry
) -> None:
    server, console, holder = site
    client = await browser(server)
    await sign_in(client, console, "dana")
    assert (await client.get("/")).status == 200
    people = {k: v for k, v in registry.people.items() if k != "dana"}
    holder.registry = Registry(
        source=registry.source,
        people=people,
        systems=registry.systems,
        channels=registry.channels,
        admins=(),
    )
    assert (await client.get("/")).status == 401


async def test_a_cross_site_form_cannot_use_a_link(
    site: tuple[TestServer, Console, Holder],
) -> None:
    server, console, _ = site
    client = await browser(server)
    path = await link_for(console, "alice")
    response = await client.post(
        path, headers={"Origin": "https://evil.example"}, allow_redirects=False
    )
    assert response.status == 404 and "console_session" not in response.cookies
    assert (await client.post(path, allow_redirects=False)).status == 303


async def test_two_browsers_racing_with_one_link_sign_in_once(
    site: tuple[TestServer, Console, Holder],
) -> None:
    server, console, _ = site
    clients = [await browser(server) for _ in range(6)]
    path = await link_for(console, "alice")
    responses = await asyncio.gather(*(c.post(path, allow_redirects=False) for c in clients))
    assert sorted(r.status for r in responses) == [303] + [410] * 5


@pytest.mark.parametrize("token", ["short", "a" * 65, "../../etc/passwd", "%00" * 20, "x" * 4000])
async def test_malformed_links_are_not_found(
    site: tuple[TestServer, Console, Holder], token: str
) -> None:
    server, _, _ = site
    client = await browser(server)
    for method in (client.get, client.post):
        response = await method(f"/sign-in/{token}", allow_redirects=False)
        assert response.status in (404, 400), token


async def test_open_mode_answers_loopback_only_with_a_banner(
    store: SqlStore, registry: Registry, clock: ManualClock
) -> None:
    app, _, _ = build_console(store, registry, clock, open_mode=True)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for page in PAGES:
            response = await client.get(page)
            assert response.status == 200, page
        home = await (await client.get("/")).text()
        assert "Open console." in home and "loopback" in home
        for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
            proxied = await client.get("/", headers={header: "203.0.113.9"})
            assert proxied.status == 403, header
            assert "only on its own machine" in await proxied.text()
