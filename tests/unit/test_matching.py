"""Alert text -> system, status and fingerprint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import fingerprint, match_system, status_of
from bot.registry import ChannelId, Registry, load_registry, parse_registry
from bot.rules import Matcher
from tests.conftest import EXAMPLE, SHARED_EXAMPLE, shared_example

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registries"


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


# ---- the one-pass matcher agrees with rule-by-rule matching -------------------------------

CHANNELS = [ChannelId("slack", c) for c in ("C0ALERTS1", "C0OTHER", "C0B")] + [
    ChannelId("teams", "19:alerts0000000000000000@thread.tacv2")
]


def rule_by_rule(registry: Registry, channel: ChannelId, text: str) -> str | None:
    """The matching of before: each system in channel order, each rule on its own."""
    for system in registry.match_order(channel):
        if any(rule.search(text) for rule in system.match):
            return system.id
    return None


def python_re(registry: Registry, channel: ChannelId, text: str) -> str | None:
    """The same with Python's `re`, as the registry was matched before RE2. One documented
    difference: RE2's `$` is the end of the text (Python's `\\Z`); Python's `$` also matches
    before a final newline."""
    for system in registry.match_order(channel):
        rules = [rule.pattern.replace("$", r"\Z") for rule in system.match]
        if any(re.search(rule, text, re.IGNORECASE) for rule in rules):
            return system.id
    return None


FIXTURE_TEXTS = [
    "[FIRING:1] billing-router p99 above 2s",
    "Drafting assistant timeouts",
    "draft assistant: DRAFTING ASSISTANT",
    "routing model drift; support-drafter too",
    "support-drafter and billing-router both",
    "disk full",
    "",
    "BILLING-ROUTER",
    "billing router",
]


@pytest.mark.parametrize("path", [EXAMPLE, SHARED_EXAMPLE, FIXTURES / "warnings_only.yaml"])
def test_matcher_agrees_with_rule_by_rule_on_fixtures(path: Path) -> None:
    if path == SHARED_EXAMPLE:
        path = shared_example(path)
    registry = load_registry(path)
    for channel in CHANNELS:
        for text in FIXTURE_TEXTS:
            found = match_system(registry, channel=channel, text=text)
            expected = rule_by_rule(registry, channel, text)
            assert (found.id if found else None) == expected == python_re(registry, channel, text)


_WORDS = ["alpha", "beta", "gamma", "router", "model", "drift", "db", "p99", "x1", "Beta"]
_RULES = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(
        [
            "alpha|beta",
            "gam+a",
            "rout(er|ing)",
            "^alpha",
            "drift$",
            "p[0-9]+",
            "x.?1",
            r"\bdb\b",
            "model s?drift",
            "(?:beta){2}",
            "[ab]lpha",
        ]
    ),
)
_SYSTEM = st.tuples(
    st.lists(_RULES, max_size=3),
    st.lists(st.sampled_from(["C0ALERTS1", "C0OTHER", "C0B"]), max_size=2, unique=True),
)
_TEXTS = st.lists(st.sampled_from([*_WORDS, " ", "-", "\n", "routing", "betabeta"]), max_size=8)


def registry_yaml(systems: list[tuple[list[str], list[str]]]) -> str:
    lines = [
        "version: 1",
        "people:",
        "  alice: {name: Alice Ng, email: alice@example.com}",
        "  bob: {name: Bob Ruiz, email: bob@example.com}",
        "systems:",
    ]
    for i, (rules, channels) in enumerate(systems):
        lines += [f"  s{i}:", "    operator: alice", "    maintainer: bob", "    steward: alice"]
        lines.append(f"    match: {json.dumps(rules)}")
        lines.append(f"    channels: {json.dumps(channels)}")
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(_SYSTEM, min_size=1, max_size=12), st.lists(_TEXTS.map("".join), max_size=6))
def test_matcher_agrees_with_rule_by_rule_on_generated_registries(
    systems: list[tuple[list[str], list[str]]], texts: list[str]
) -> None:
    registry = parse_registry(registry_yaml(systems), source="generated.yaml")
    for channel in CHANNELS[:3]:
        for text in texts:
            found = match_system(registry, channel=channel, text=text)
            expected = rule_by_rule(registry, channel, text)
            assert (found.id if found else None) == expected == python_re(registry, channel, text)


def test_a_matcher_that_gives_up_falls_back_to_rule_by_rule(registry: Registry) -> None:
    class GaveUp:
        """What RE2's Set answers when its DFA runs out of memory: nothing, not even the
        entry that matches every text."""

        def Match(self, text: bytes) -> list[int]:
            return []

    matcher = Matcher((i, r) for i, s in enumerate(registry.ordered) for r in s.match)
    matcher._set = GaveUp()
    assert matcher.systems("Drafting assistant and billing-router") == [0, 1]
    assert matcher.systems("nothing here") == []


def test_one_thousand_systems_load_and_match() -> None:
    systems = [
        ([f"system-{i}-router", f"model {i} drift"], ["C0B"] if i % 2 else []) for i in range(1000)
    ]
    registry = parse_registry(registry_yaml(systems), source="big.yaml")
    for text in (
        "[FIRING] system-512-router down",
        "model 7 drift",
        "model 77 drift and system-3-router",
    ):
        found = match_system(registry, channel=ChannelId("slack", "C0B"), text=text)
        assert (found.id if found else None) == rule_by_rule(
            registry, ChannelId("slack", "C0B"), text
        )
