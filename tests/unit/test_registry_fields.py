"""Registry fields for governance and incident review: decision rights, review thresholds,
the decision time box and the accountability contract; their located errors and the
warnings `check` gives for what a registry leaves open."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.diagnostics import check_report, governance_gaps
from bot.registry import RegistryError, load_registry, parse_registry
from bot.registry_fields import DEFAULT_TIMEBOX, EvidenceLink, parse_fraction, parse_template
from tests.conftest import EXAMPLE, shared_example

BASE = """version: 1
people:
  alice: {name: Alice Ng, email: alice@example.com}
  bob: {name: Bob Ruiz, email: bob@example.com}
  carol: {name: Carol Diaz, email: carol@example.com}
  ops: {name: Ops Team, email: ops@example.com, group: true}
admins: [carol]
defaults:
  review_every: 90d
DEFAULTS
systems:
  billing-router:
    operator: alice
    maintainer: bob
    steward: carol
    match: [billing]
SYSTEM
"""


def registry_text(*, defaults: str = "", system: str = "") -> str:
    """BASE with lines added under `defaults:` and the system (indented by the caller)."""
    return BASE.replace("DEFAULTS\n", defaults).replace("SYSTEM\n", system)


def problems(text: str) -> list[tuple[str | None, str | None, int | None, str]]:
    with pytest.raises(RegistryError) as caught:
        parse_registry(text, source="r.yaml")
    return [(p.system, p.field, p.line, p.message) for p in caught.value.problems]


def test_the_repository_example_exposes_every_field() -> None:
    registry = load_registry(EXAMPLE)
    billing = registry.systems["billing-router"]
    rw = billing.governance.review_when
    # the system's keys over the defaults' keys
    assert (rw.exception_rate, rw.ack_p90) == (0.3, timedelta(minutes=30))
    assert (rw.ack_p50, rw.operator_ack_rate, rw.rework, rw.still_open) == (
        timedelta(minutes=10),
        0.5,
        5,
        10,
    )
    assert billing.governance.decision_timebox == timedelta(hours=24)
    assert billing.governance.decision_escalation == ("dana",)
    assert set(billing.decisions) == {
        "model_change",
        "incident_response",
        "rollout_gate",
        "policy_exception",
    }
    gate = billing.decisions["rollout_gate"]
    assert (gate.recommends, gate.approves, gate.executes, gate.informed) == (
        "bob",
        "carol",
        "bob",
        ("alice", "dana"),
    )
    assert billing.decisions["policy_exception"].informed == ()
    contract = billing.contract
    assert contract.purpose and contract.quality_bar and len(contract.operator_checks) == 2
    assert [e.title for e in contract.evidence] == [
        "Router dashboard",
        "Alert rule",
        "Model versions",
    ]
    assert contract.learning_owner == "bob" and contract.missing() == ()

    drafter = registry.systems["support-drafter"]
    assert drafter.governance.review_when.watched() == {
        "exception_rate": 0.3,
        "ack_p90": timedelta(minutes=30),
    }
    assert drafter.governance.decision_timebox == timedelta(hours=48)
    assert set(drafter.decisions) == {"model_change", "incident_response"}
    assert drafter.contract.learning_owner == drafter.maintainer == "alice"
    assert drafter.contract.missing() == ("operator_checks", "quality_bar", "evidence")


def test_the_shared_reference_gets_the_built_in_defaults() -> None:
    registry = load_registry(shared_example())
    for system in registry.systems.values():
        assert system.decisions == {}
        assert system.governance.review_when.watched() == {}
        assert system.governance.decision_timebox == DEFAULT_TIMEBOX == timedelta(hours=48)
        assert system.governance.decision_escalation == registry.admins == ("dana",)
        assert system.contract.learning_owner == system.maintainer
        assert system.contract.missing() == (
            "purpose",
            "operator_checks",
            "quality_bar",
            "evidence",
        )


@pytest.mark.parametrize(
    ("value", "share"),
    [("30%", 0.3), (" 5 % ", 0.05), (0.3, 0.3), (0, 0.0), ("100%", 1.0), (1, 1.0)],
)
def test_shares(value: object, share: float) -> None:
    assert parse_fraction(value) == pytest.approx(share)


@pytest.mark.parametrize("value", ["130%", 30, -0.1, "abc%", "nan%", True, "0.3", None, "inf%"])
def test_bad_shares_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="not a share"):
        parse_fraction(value)


DECISION_ERRORS = [
    (
        "      model_change: {recommends: alice, approves: the team, executes: bob}\n",
        "decisions.model_change.approves",
        "'the team' is not a person",
    ),
    (
        "      model_change: {recommends: alice, approves: ops, executes: bob}\n",
        "decisions.model_change.approves",
        "marked `group: true`",
    ),
    (
        "      model_change: {recommends: alice, approves: [bob, carol], executes: bob}\n",
        "decisions.model_change.approves",
        "not a list",
    ),
    (
        "      model_change: {recommends: alice, executes: bob}\n",
        "decisions.model_change.approves",
        "is required",
    ),
    (
        "      model_change: {recommends: alice, approves: carol, executes: zed}\n",
        "decisions.model_change.executes",
        "'zed' is not a key of `people`",
    ),
    (
        "      model_change: {recommends: alice, approves: carol, executes: bob,"
        " informed: [alice, '@here']}\n",
        "decisions.model_change.informed.1",
        "'@here' is not a person",
    ),
    (
        "      model_change: {recommends: alice, approves: carol, executes: bob, vetoes: bob}\n",
        "decisions.model_change.vetoes",
        "is not a known field",
    ),
]


@pytest.mark.parametrize(("entry", "field", "message"), DECISION_ERRORS)
def test_bad_decisions_are_located_errors(entry: str, field: str, message: str) -> None:
    found = problems(registry_text(system="    decisions:\n" + entry))
    assert len(found) == 1
    system, where, line, said = found[0]
    assert (system, where, line) == ("billing-router", field, 17)
    assert message in said


def test_bad_decisions_in_defaults_are_located_once() -> None:
    text = registry_text(
        defaults="  decisions:\n    rollout_gate: {recommends: alice, approves: everyone,"
        " executes: bob}\n",
        system="  other:\n    operator: bob\n    maintainer: alice\n    steward: carol\n",
    )
    assert problems(text) == [
        (
            None,
            "defaults.decisions.rollout_gate.approves",
            11,
            "'everyone' is not a person; name one person from `people`",
        )
    ]


def test_a_single_informed_name_is_a_list_of_one() -> None:
    text = registry_text(
        system="    decisions:\n      rollout_gate: {recommends: alice, approves: carol,"
        " executes: bob, informed: alice}\n"
    )
    registry = parse_registry(text, source="r.yaml")
    assert registry.systems["billing-router"].decisions["rollout_gate"].informed == ("alice",)


GOVERNANCE_ERRORS = [
    (
        "      review_when: {exception_rate: 130%}\n",
        "governance.review_when.exception_rate",
        "not a share",
    ),
    (
        "      review_when: {ack_p90: half an hour}\n",
        "governance.review_when.ack_p90",
        "not a duration",
    ),
    ("      review_when: {rework: -1}\n", "governance.review_when.rework", "greater than or equal"),
    ("      review_when: {rework: 2.5}\n", "governance.review_when.rework", "valid integer"),
    (
        "      review_when: {exceptions: 30%}\n",
        "governance.review_when.exceptions",
        "is not a known field",
    ),
    ("      decision_timebox: 0s\n", "governance.decision_timebox", "longer than 0s"),
    (
        "      decision_escalation: the team\n",
        "governance.decision_escalation",
        "'the team' is not a person",
    ),
    ("      decision_escalation: [carol, bob]\n", "governance.decision_escalation", "not a list"),
]


@pytest.mark.parametrize(("entry", "field", "message"), GOVERNANCE_ERRORS)
def test_bad_governance_is_a_located_error(entry: str, field: str, message: str) -> None:
    found = problems(registry_text(system="    governance:\n" + entry))
    assert len(found) == 1
    system, where, line, said = found[0]
    assert (system, where) == ("billing-router", field)
    assert line in (16, 17)
    assert message in said


def test_defaults_governance_applies_per_key_and_a_system_may_unset_one() -> None:
    text = registry_text(
        defaults="  governance:\n    review_when: {exception_rate: 0.25, rework: 3}\n"
        "    decision_timebox: 72h\n    decision_escalation: alice\n",
        system="    governance:\n      review_when: {rework: null, still_open: 4}\n",
    )
    g = parse_registry(text, source="r.yaml").systems["billing-router"].governance
    assert g.review_when.watched() == {"exception_rate": 0.25, "still_open": 4}
    assert g.decision_timebox == timedelta(hours=72)
    assert g.decision_escalation == ("alice",)


def test_learning_owner_must_be_a_person() -> None:
    found = problems(registry_text(system="    learning_owner: everyone\n"))
    assert found == [
        (
            "billing-router",
            "learning_owner",
            16,
            "'everyone' is not a person; name one person from `people`",
        )
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://logs.example.com/{system}", "must start with http:// or https://"),
        ("https://{system}.example.com/", "part of the host"),
        ("https://grafana.example.com/d/{alert}", "unknown field {alert}"),
        ("https://grafana.example.com/d/{labels[]}", "unknown field"),
        ("https://grafana.example.com/d/{system", "unknown field"),
        ("https://grafana.example.com/d/x}", "single '}'"),
        ("https://grafana.example.com/d/{system.__class__}", "unknown field"),
        ("https://grafana.example.com/d/{labels[a][b]}", "unknown field"),
    ],
)
def test_bad_evidence_templates_are_located_errors(url: str, message: str) -> None:
    found = problems(registry_text(system=f"    evidence:\n      - {{title: T, url: '{url}'}}\n"))
    assert [(s, f, ln) for s, f, ln, _ in found] == [("billing-router", "evidence.0.url", 17)]
    assert message in found[0][3]


def test_evidence_links_render_with_values_percent_encoded() -> None:
    link = EvidenceLink(
        "Dashboard",
        "https://g.example.com/d/x?sys={system}&id={alert_id}&fp={fingerprint}"
        "&from={started_at_ms}&t={started_at}&sev={labels[severity]}&q={{raw}}",
    )
    started = datetime(2026, 11, 2, 9, 0, 1, tzinfo=UTC)
    url = link.render(
        system="billing-router",
        alert_id=42,
        fingerprint="ab12",
        started_at=started,
        labels={"severity": "p1&x=y/../#"},
    )
    assert url == (
        "https://g.example.com/d/x?sys=billing-router&id=42&fp=ab12&from=1793610001000"
        "&t=2026-11-02T09%3A00%3A01Z&sev=p1%26x%3Dy%2F..%2F%23&q={raw}"
    )
    # values not known yet are empty, never a literal "{...}"
    assert link.render(system="s") == (
        "https://g.example.com/d/x?sys=s&id=&fp=&from=&t=&sev=&q={raw}"
    )


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.text(max_size=30)), st.text(max_size=30))
def test_no_value_can_move_a_link_to_another_host(labels: dict[str, str], system: str) -> None:
    link = EvidenceLink("T", "https://logs.example.com/{system}?q={labels[q]}&r={labels[r]}")
    parts = urlsplit(link.render(system=system, labels=labels))
    assert (parts.scheme, parts.netloc) == ("https", "logs.example.com")
    assert parts.path.count("/") == 1 and not parts.fragment


def test_templates_parse_in_one_pass() -> None:
    assert parse_template("https://a.example.com/{{x}}/{system}") == (
        ("https://a.example.com/{x}/", None),
        ("", "system"),
    )


def test_check_warns_about_missing_contract_and_undecided_categories() -> None:
    registry = load_registry(shared_example())
    gaps = governance_gaps(registry)
    assert all(g.severity == "warning" for g in gaps)
    assert [(g.system, g.field) for g in gaps] == [
        ("billing-router", None),
        ("billing-router", "decisions"),
        ("support-drafter", None),
        ("support-drafter", "decisions"),
    ]
    assert "`purpose`, `operator_checks`, `quality_bar`, `evidence`" in gaps[0].message
    assert gaps[1].message.endswith(
        "model_change, policy_exception, incident_response, rollout_gate"
    )
    report, failed = check_report(shared_example())
    assert not failed and "0 errors, 4 warnings" in report


def test_check_suggests_a_known_category_for_a_misspelt_one(tmp_path: object) -> None:
    text = registry_text(
        defaults="  governance: {decision_escalation: alice}\n",
        system="    decisions:\n      model_chnage: {recommends: alice, approves: carol,"
        " executes: bob}\n",
    )
    registry = parse_registry(text, source="r.yaml")
    messages = [(g.field, g.message) for g in governance_gaps(registry)]
    assert ("decisions.model_chnage", "'model_chnage': did you mean 'model_change'?") in messages


def test_no_one_to_take_an_open_decision_is_a_warning() -> None:
    text = registry_text().replace("admins: [carol]\n", "")
    registry = parse_registry(text, source="r.yaml")
    system = registry.systems["billing-router"]
    assert system.governance.decision_escalation == ()
    assert any(
        g.field == "governance" and "nobody takes a decision" in g.message
        for g in governance_gaps(registry)
    )


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.floats(allow_nan=True)
    | st.sampled_from(["30%", "10m", "alice", "the team", "ops", "", "x%", "{", "48h", "zed"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_KEYS = st.sampled_from(
    [
        "review_when",
        "decision_timebox",
        "decision_escalation",
        "exception_rate",
        "ack_p90",
        "rework",
        "recommends",
        "approves",
        "executes",
        "informed",
        "model_change",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_KEYS, _VALUES, max_size=4),
    st.dictionaries(_KEYS, _VALUES, max_size=4),
    st.dictionaries(
        st.sampled_from(
            ["purpose", "operator_checks", "quality_bar", "evidence", "learning_owner"]
        ),
        _VALUES,
        max_size=3,
    ),
)
def test_any_governance_input_loads_or_gives_located_errors(
    governance: dict[str, object], decisions: dict[str, object], contract: dict[str, object]
) -> None:
    system = (
        f"    governance: {json.dumps(governance)}\n"
        f"    decisions: {json.dumps({'model_change': decisions})}\n"
        + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in contract.items())
    )
    text = registry_text(system=system)
    try:
        registry = parse_registry(text, source="r.yaml")
    except RegistryError as exc:
        assert exc.problems and all(p.file == "r.yaml" and p.message for p in exc.problems)
    else:
        governance_gaps(registry)
        check_report


def test_check_names_the_version_it_read() -> None:
    report, failed = check_report(EXAMPLE)
    assert not failed
    assert report.splitlines()[0].endswith(f"(version {load_registry(EXAMPLE).version[:12]})")


@pytest.mark.parametrize("value", [10**30, "99999999999999999999d", float("inf"), float("nan"), -1])
def test_a_duration_out_of_range_is_refused_not_a_crash(value: object) -> None:
    from bot.registry_base import parse_duration

    with pytest.raises(ValueError):
        parse_duration(value)
