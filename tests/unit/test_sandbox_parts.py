"""The sandbox's parts on their own: the registry's view of sandbox channels, the clock, the
loopback check, the samples and the web platform's timelines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.slack.translate import message_text
from adapters.web.sandbox import samples
from adapters.web.sandbox.clock import SandboxClock
from adapters.web.sandbox.pages import is_loopback
from adapters.web.sandbox.platform import WebPlatform
from bot.cards import Card
from bot.domain import UserRef
from bot.matching import match_system, registry_channel
from bot.ports import PlatformError
from bot.registry import ChannelId, Registry


def test_a_sandbox_channel_counts_as_the_registry_channel(registry: Registry) -> None:
    web = ChannelId("web", "C0ALERTS1")
    assert registry_channel(registry, web) == ChannelId("slack", "C0ALERTS1")
    elsewhere = ChannelId("web", "elsewhere")
    assert registry_channel(registry, elsewhere) == elsewhere
    teams = ChannelId("teams", "C0ALERTS1")
    assert registry_channel(registry, teams) == teams


def test_the_clock_only_moves_forward() -> None:
    clock = SandboxClock()
    before = clock.now()
    clock.advance(timedelta(minutes=10))
    assert clock.now() - before >= timedelta(minutes=10)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError):
        clock.advance(timedelta(days=4000))


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        (None, False),
        ("localhost", False),
    ],
)
def test_loopback(address: str | None, local: bool) -> None:
    assert is_loopback(address) is local


@pytest.mark.parametrize("source", sorted(samples.BUILDERS))
@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_every_sample_lands_on_its_system(
    registry: Registry, source: str, status: samples.Status
) -> None:
    clock = SandboxClock()
    for system in [*registry.systems.values(), None]:
        sample = samples.BUILDERS[source](system, status, clock.now())
        assert sample.status == status
        found = sample.system or (
            m.id
            if (
                m := match_system(registry, channel=ChannelId("web", "C0ALERTS1"), text=sample.text)
            )
            else None
        )
        assert found == (system.id if system else None), (source, sample.text)


@pytest.mark.parametrize("source", ["datadog", "pagerduty", "sentry"])
@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_chat_samples_read_as_a_slack_channel_reads_them(
    registry: Registry, source: str, status: samples.Status
) -> None:
    for system in [*registry.systems.values(), None]:
        sample = samples.BUILDERS[source](system, status, SandboxClock().now())
        assert message_text(sample.payload) == sample.text


@given(st.text(max_size=10_000))
def test_pasted_text_is_bounded(text: str) -> None:
    sample = samples.pasted(text)
    assert len(sample.text) <= samples.MAX_PASTED and "\x00" not in sample.text


async def test_answers_meant_for_one_person(registry: Registry) -> None:
    platform = WebPlatform(people=lambda: registry.people, clock=SandboxClock())
    root = await platform.post(channel="C0ALERTS1", card=Card("claim"))
    platform.add(
        conversation="C0ALERTS1",
        author="bot",
        by="bot",
        card=Card("for alice"),
        thread=root.id,
        visible_to="alice",
    )
    (seen_by_bob,) = platform.timeline("C0ALERTS1", viewer="bob")
    (seen_by_alice,) = platform.timeline("C0ALERTS1", viewer="alice")
    assert seen_by_bob.replies == [] and len(seen_by_alice.replies) == 1
    assert await platform.find_user(email="ALICE@example.com") == UserRef("web", "alice")
    assert await platform.user_email(user=UserRef("web", "bob")) == "bob@example.com"
    with pytest.raises(PlatformError):
        await platform.direct(user=UserRef("web", "mallory"), card=Card("x"))
    with pytest.raises(PlatformError):
        await platform.update(
            message=root.__class__("web", "C0ALERTS1", "earlier.1"), card=Card("x")
        )
