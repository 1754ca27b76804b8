"""Alert text -> system, status and fingerprint."""

from __future__ import annotations

import pytest

from bot.matching import fingerprint, match_system, status_of
from bot.registry import ChannelId, Registry


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("[FIRING:2] HighLatency billing-router", "firing"),
        ("[RESOLVED] HighLatency billing-router", "resolved"),
        ("Resolved: billing-router error rate", "resolved"),
        ("✅ billing-router recovered", "resolved"),
        ("billing-router: 5xx rate resolved itself?", "firing"),  # only the leading status counts
        ("", "firing"),
    ],
)
def test_status(text: str, status: str) -> None:
    assert status_of(text) == status


def test_fingerprint_ignores_status_numbers_and_times() -> None:
    a = fingerprint("[FIRING:1] billing-router p99 2.3s at 2026-11-02T09:00:01Z", system="b")
    b = fingerprint("[RESOLVED] billing-router p99 4.9s at 2026-11-02T10:13:44Z", system="b")
    assert a == b
    assert a != fingerprint("[FIRING:1] billing-router error rate", system="b")
    assert a != fingerprint("[FIRING:1] billing-router p99 2.3s", system="other")


def test_systems_listing_the_channel_are_tried_first(registry: Registry) -> None:
    found = match_system(
        registry, channel=ChannelId("slack", "C0ALERTS1"), text="Drafting assistant timeouts"
    )
    assert found is not None and found.id == "support-drafter"
    assert match_system(registry, channel=ChannelId("slack", "C0ALERTS1"), text="disk full") is None
    elsewhere = match_system(registry, channel=ChannelId("slack", "C0OTHER"), text="Billing-Router")
    assert elsewhere is not None and elsewhere.id == "billing-router"
