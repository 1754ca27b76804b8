"""The registry loader: the reference file loads, and every rule of DESIGN.md §5 has a failing
fixture whose message names the file, the system, the field and the line."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from bot.registry import (
    CommandAction,
    RegistryError,
    WebhookAction,
    format_duration,
    load_registry,
    parse_duration,
    parse_registry,
)
from tests.conftest import EXAMPLE, shared_example

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registries"


def test_reference_registry_loads_as_it_is() -> None:
    registry = load_registry(shared_example())
    billing = registry.systems["billing-router"]
    assert (billing.operator, billing.maintainer, billing.steward) == ("alice", "bob", "carol")
    assert billing.stop_authority == "carol"
    assert billing.review_every == timedelta(days=30)
    assert [(e.person, e.after) for e in billing.escalation] == [
        ("bob", timedelta(minutes=10)),
        ("carol", timedelta(minutes=30)),
        ("dana", timedelta(hours=48)),
    ]
    assert isinstance(billing.stop, WebhookAction)
    assert billing.stop.secret_env == "BILLING_ROUTER_STOP_SECRET"
    drafter = registry.systems["support-drafter"]
    # support-drafter gives no map: the defaults apply, roles resolved to people.
    assert [(e.person, e.label) for e in drafter.escalation] == [
        ("alice", "maintainer"),
        ("carol", "steward"),
    ]
    assert drafter.review_every == timedelta(days=90)
    assert isinstance(drafter.stop, CommandAction)
    assert drafter.stop.command == ["scripts/flag", "set", "support-drafter", "off"]
    assert drafter.stop.timeout == timedelta(seconds=20)
    assert registry.fallback_for(registry.channels[0].channel) == "dana"
    assert registry.warnings == ()


def test_repository_example_matches_the_shared_reference() -> None:
    # The repository's file adds an example of each governance and review field; the rest
    # is the shared reference.
    ours, theirs = load_registry(EXAMPLE), load_registry(shared_example())
    added = {"contract", "governance", "decisions"}

    def core(view: object) -> dict[str, object]:
        return {k: v for k, v in vars(view).items() if k not in added}

    assert ours.people == theirs.people
    assert {k: core(v) for k, v in ours.systems.items()} == {
        k: core(v) for k, v in theirs.systems.items()
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800), ("2w", 1209600), (30, 30)],
)
def test_durations(text: object, expected: int) -> None:
    assert parse_duration(text) == timedelta(seconds=expected)


@pytest.mark.parametrize("text", ["10 minutes", "", "-5m", "1.5h", True])
def test_bad_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("90s", "15m", "2h", "7d", "14d"):
        assert format_duration(parse_duration(text)) == text


BROKEN = [
    ("missing_operator", 8, "operator", "is required"),
    ("unknown_person", 9, "operator", "'alicia' is not a key of `people`"),
    ("the_team", 9, "operator", "'the team' is not a person"),
    ("at_channel", 11, "steward", "'@channel' is not a person"),
    ("blank_role", 10, "maintainer", "blank is not a person"),
    ("group_person", 9, "operator", "marked `group: true`"),
    ("list_of_names", 9, "operator", "not a list"),
    ("stop_authority_unknown", 12, "stop_authority", "'everyone' is not a person"),
    ("escalation_not_increasing", 15, "escalation", "must strictly increase"),
    ("bad_duration", 14, "escalation.0.after", "not a duration: 'ten minutes'"),
    ("unknown_field", 12, "owner", "is not a known field"),
    ("bad_regex", 12, "match.0", "is not a regular expression"),
    ("shell_string_command", 14, "stop.command", "never a shell string"),
]


@pytest.mark.parametrize(("name", "line", "field", "message"), BROKEN)
def test_broken_registry_names_file_system_field_and_line(
    name: str, line: int, field: str, message: str
) -> None:
    path = FIXTURES / f"{name}.yaml"
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    (problem,) = caught.value.problems
    assert problem.file == str(path)
    assert problem.system == "billing-router"
    assert problem.field == field
    assert problem.line == line
    assert message in problem.message
    shown = str(caught.value)
    assert shown.startswith(f"{path}:{line}: error: system 'billing-router' field '{field}'")


def test_person_needs_an_email() -> None:
    with pytest.raises(RegistryError) as caught:
        load_registry(FIXTURES / "person_without_email.yaml")
    (problem,) = caught.value.problems
    assert (problem.field, problem.line, problem.message) == (
        "people.alice.email",
        3,
        "is required",
    )


def test_invalid_yaml_gives_the_line() -> None:
    with pytest.raises(RegistryError) as caught:
        load_registry(FIXTURES / "not_yaml.yaml")
    (problem,) = caught.value.problems
    assert problem.line == 4
    assert "not valid YAML" in problem.message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read the file"):
        load_registry(tmp_path / "nope.yaml")


def test_warnings_do_not_stop_loading() -> None:
    registry = load_registry(FIXTURES / "warnings_only.yaml")
    messages = [(w.system, w.field, w.message) for w in registry.warnings]
    assert (
        "billing-router",
        "maintainer",
        "the maintainer 'alice' is also the operator",
    ) in messages
    assert (
        "support-drafter",
        "maintainer",
        "the maintainer 'carol' is also the steward",
    ) in messages
    assert any(s == "billing-router" and "no watch rule" in m for s, _, m in messages)
    assert all(w.severity == "warning" for w in registry.warnings)


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        (FIXTURES / "unknown_person.yaml").read_text()
        + "  other:\n    operator: team\n    maintainer: bob\n    steward: nobody\n"
    )
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert {(p.system, p.field) for p in caught.value.problems} == {
        ("billing-router", "operator"),
        ("other", "operator"),
        ("other", "steward"),
    }


def test_two_people_with_one_email_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "twins.yaml"
    path.write_text(
        (FIXTURES / "unknown_person.yaml")
        .read_text()
        .replace(
            "bob: {name: Bob Ruiz, email: bob@example.com}",
            "bob: {name: Bob Ruiz, email: ALICE@example.com}",
        )
        .replace("operator: alicia", "operator: alice")
    )
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    (problem,) = caught.value.problems
    assert (problem.field, problem.line) == ("people.bob.email", 4)
    assert "already the email of 'alice'" in problem.message


def test_rules_re2_cannot_run_are_located() -> None:
    path = FIXTURES / "re2_rejects.yaml"
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    found = [(p.system, p.field, p.line, p.message) for p in caught.value.problems]
    assert [(s, f, ln) for s, f, ln, _ in found] == [
        ("billing-router", f"match.{i}", 12 + i) for i in range(1, 6)
    ]
    reasons = [m for *_, m in found]
    assert all("is not a regular expression RE2 can run" in m for m in reasons)
    assert "backreferences are not supported" in reasons[0]
    assert "look-ahead is not supported" in reasons[1]
    assert "look-behind is not supported" in reasons[2]
    assert "RE2 writes the end of the text as \\z" in reasons[3]
    assert str(caught.value).startswith(
        f"{path}:13: error: system 'billing-router' field 'match.1': match rule"
    )


def test_version_is_the_hash_of_the_exact_text(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("\n", "\r\n")
    path = tmp_path / "crlf.yaml"
    path.write_bytes(text.encode("utf-8"))
    registry = load_registry(path)
    assert registry.source_text == text
    assert registry.version == hashlib.sha256(path.read_bytes()).hexdigest()
    again = parse_registry(registry.source_text, source="stored version")
    assert again.version == registry.version and again.systems == registry.systems
    edited = parse_registry(text.replace("review_every: 30d", "review_every: 31d"), source="x")
    assert edited.version != registry.version


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("people: {é: 1}".encode("latin-1"))
    with pytest.raises(RegistryError, match="not UTF-8"):
        load_registry(path)
