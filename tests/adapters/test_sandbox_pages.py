"""The sandbox's routes over HTTP: the whole flow, the loopback guard, bad input."""

from __future__ import annotations

from pathlib import Path

from adapters.web.sandbox.platform import direct_conversation
from tests.adapters.sandbox_support import Running, card_buttons, serve_sandbox

CHANNEL = "/sandbox/c/C0ALERTS1"


async def post(run: Running, path: str, data: dict[str, str], *, person: str | None = None):
    cookies = {"sandbox_as": person} if person else None
    response = await run.client.post(
        path, data={"next": CHANNEL, **data}, allow_redirects=False, cookies=cookies
    )
    return response


async def page(run: Running, path: str = CHANNEL, *, person: str | None = None) -> str:
    cookies = {"sandbox_as": person} if person else None
    response = await run.client.get(path, cookies=cookies)
    assert response.status == 200, await response.text()
    assert "sandbox" in (await response.text()).lower()
    return await response.text()


async def test_alert_claimed_escalated_acknowledged(tmp_path: Path) -> None:
    async with serve_sandbox(tmp_path) as run:
        answer = await post(
            run,
            "/sandbox/alert",
            {
                "channel": "C0ALERTS1",
                "source": "alertmanager",
                "system": "billing-router",
                "status": "firing",
            },
        )
        assert answer.status == 303
        assert answer.headers["Location"].startswith(CHANNEL)
        html = await page(run)
        assert "Claimed for " in html and "@Alice Ng" in html
        assert "BillingRouterErrorRate" in html  # the tool's own post, and its payload

        await post(run, "/sandbox/clock", {"by": "11m"})
        bob = run.sandbox.platform.timeline(direct_conversation("bob"), viewer="bob")
        assert bob and "escalates to you" in bob[0].card.plain_text()  # type: ignore[union-attr]
        html = await page(run)
        assert "Still unacknowledged: escalated to " in html

        claim = next(b for b in card_buttons(html) if b[0] == "alert.ack")
        await post(
            run,
            "/sandbox/click",
            {"action": claim[0], "value": claim[1], "message": claim[2]},
            person="alice",
        )
        html = await page(run)
        assert "Acknowledged: held by" in html
        await post(run, "/sandbox/clock", {"by": "30m"})
        carol = run.sandbox.platform.timeline(direct_conversation("carol"), viewer="carol")
        assert carol == []  # the steward's step was cancelled by the acknowledgement


async def test_stop_refused_for_others_then_confirmed_by_the_holder(tmp_path: Path) -> None:
    async with serve_sandbox(tmp_path) as run:
        await post(
            run,
            "/sandbox/say",
            {"conversation": "C0ALERTS1", "text": "/stop billing-router drift"},
            person="alice",
        )
        html = await page(run, person="alice")
        assert "Carol Diaz" in html and "only visible to you" in html
        assert "stop.confirm" not in html
        told = run.sandbox.platform.timeline(direct_conversation("carol"), viewer="carol")
        assert "Alice Ng" in told[-1].card.plain_text()  # type: ignore[union-attr]
        assert "only visible to you" not in await page(run, person="bob")  # alice's answer

        await post(
            run,
            "/sandbox/say",
            {"conversation": "C0ALERTS1", "text": "/stop billing-router drift"},
            person="carol",
        )
        html = await page(run, person="carol")
        confirm = next(b for b in card_buttons(html) if b[0] == "stop.confirm")
        refused = await post(
            run,
            "/sandbox/click",
            {"action": confirm[0], "value": confirm[1], "message": confirm[2]},
            person="alice",
        )
        assert refused.status == 303
        assert not run.sandbox.actions.deliveries.items
        await post(
            run,
            "/sandbox/click",
            {"action": confirm[0], "value": confirm[1], "message": confirm[2]},
            person="carol",
        )
        (delivery,) = run.sandbox.actions.deliveries.items
        assert delivery.ok and delivery.mechanism == "webhook"
        assert delivery.configured == "http://127.0.0.1:9099/billing-router/stop"
        assert delivery.received["signature"].startswith("valid")
        assert delivery.received["body"]["system"] == "billing-router"
        assert delivery.received["body"]["requested_by"] == "carol"
        html = await page(run, person="bob")
        assert "billing-router" in html and "sandbox: webhook answered 200" in html
        actions = await page(run, "/sandbox/actions")
        assert "X-Accountability-Signature" in actions


async def test_command_stop_is_echoed_not_run(tmp_path: Path) -> None:
    async with serve_sandbox(tmp_path) as run:
        await post(
            run,
            "/sandbox/say",
            {"conversation": "C0ALERTS1", "text": "/stop support-drafter"},
            person="carol",
        )
        html = await page(run, person="carol")
        confirm = next(b for b in card_buttons(html) if b[0] == "stop.confirm")
        await post(
            run,
            "/sandbox/click",
            {"action": confirm[0], "value": confirm[1], "message": confirm[2]},
            person="carol",
        )
        (delivery,) = run.sandbox.actions.deliveries.items
        assert delivery.ok, delivery.result
        assert delivery.received["argv"] == ["scripts/flag", "set", "support-drafter", "off"]
        assert '"argv": ["scripts/flag"' in delivery.result
        assert not (Path(run.sandbox.actions.workdir) / "flags.json").exists()


async def test_who_owns_and_unknown_commands(tmp_path: Path) -> None:
    async with serve_sandbox(tmp_path) as run:
        for text in (
            "/who-owns billing-router",
            "/who-owns billing-ruoter",
            "/nope",
            "/",
            "/who-owns",
            "/who-decides billing-router",
        ):
            answer = await post(
                run, "/sandbox/say", {"conversation": "C0ALERTS1", "text": text}, person="bob"
            )
            assert answer.status == 303
        html = await page(run, person="bob")
        assert "Alice Ng" in html and "Did you mean: billing-router" in html
        assert "No command /nope" in html
        assert "No command /who-decides" not in html and "/who-decides" in html
        assert "Systems of this channel" in html and "support-drafter: operator Bob Ruiz" in html


async def test_unowned_alert_goes_to_the_channel_fallback(tmp_path: Path) -> None:
    async with serve_sandbox(tmp_path) as run:
        await post(
            run,
            "/sandbox/alert",
            {"channel": "C0ALERTS1", "source": "datadog", "system": "", "status": "firing"},
        )
        html = await page(run)
        assert "Claimed for " in html and "@Dana Wu" in html


async def test_refused_from_elsewhere(tmp_path: Path) -> None:
    async with serve_sandbox(tmp_path) as run:
        for headers in (
            {"X-Forwarded-For": "203.0.113.9"},
            {"Forwarded": "for=203.0.113.9"},
            {"Host": "attacker.example:80"},
        ):
            answer = await run.client.get(CHANNEL, headers=headers)
            assert answer.status == 403, headers
        answer = await run.client.post(
            "/sandbox/clock", data={"by": "1d"}, headers={"Origin": "https://attacker.example"}
        )
        assert answer.status == 403
        answer = await run.client.post(
            "/sandbox/clock", data={"by": "1d"}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert answer.status == 403
        assert run.sandbox.clock.offset.total_seconds() == 0


async def test_bad_input_is_a_4xx(tmp_path: Path) -> None:
    async with serve_sandbox(tmp_path) as run:
        cases = [
            ("/sandbox/clock", {"by": "-5m"}),
            ("/sandbox/clock", {"by": "soon"}),
            ("/sandbox/clock", {"by": "99999d"}),
            ("/sandbox/alert", {"channel": "nowhere", "source": "sentry"}),
            ("/sandbox/alert", {"channel": "C0ALERTS1", "source": "nagios"}),
            ("/sandbox/alert", {"channel": "C0ALERTS1", "source": "sentry", "system": "x"}),
            ("/sandbox/as", {"person": "mallory"}),
            ("/sandbox/say", {"conversation": "D-carol", "text": "/stop billing-router"}),
            (
                "/sandbox/click",
                {"action": "alert.ack", "value": "1", "message": "m", "target": "nobody"},
            ),
        ]
        for path, data in cases:
            answer = await post(run, path, data, person="alice")
            assert 400 <= answer.status < 500, (path, data, answer.status)
        big = await run.client.post(
            "/sandbox/say", data={"conversation": "C0ALERTS1", "text": "x" * 200_000}
        )
        assert big.status == 413
        assert (await run.client.get("/sandbox/c/nowhere")).status == 404
        assert (await run.client.get("/sandbox/dm/mallory")).status == 404
        assert (await run.client.get("/sandbox/static/../pages.py")).status == 404
        assert (await run.client.post("/sandbox/receiver/forged", data=b"{}")).status == 404
        odd = await post(
            run, "/sandbox/click", {"action": "alert.ack", "value": "x" * 500, "message": "gone"}
        )
        assert odd.status == 303 and "gone" in odd.headers["Location"]
        for raw in (
            b"conversation=C0ALERTS1&text=billing-router%00%ED%A0%80%FF+broke",
            b"conversation=C0ALERTS1&text=%2Fstop+%00",
            b"\xff\xfe=%%%&&&",
        ):
            odd = await run.client.post(
                "/sandbox/say",
                data=raw,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                allow_redirects=False,
            )
            assert odd.status in (303, 400), raw
        assert (await run.client.get(CHANNEL)).status == 200
