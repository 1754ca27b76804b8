"""Property-based fuzzing (Hypothesis) of every HTTP endpoint that takes input from outside:
Slack events, slash commands and interactivity (validly signed, so the parsers behind the
signature check are what is fuzzed) and the three alert intake formats (with the bearer token).

For every generated request: no 5xx and an answer within 10 s. After each run: /healthz
answers 200 and the evidence chain verifies. Requests are real HTTP to the real `serve`
application; Slack's Web API is the loopback stand-in. (Teams activities are fuzzed in
test_teams_hardening.py, where the request must carry a valid token.)
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adapters.hostile import AUTH, InThread
from tests.adapters.slack_standin import ALERTS, BOT_USER, TEAM, event_callback, signed_headers

# The server's own thread uses `random` (retry jitter) while Hypothesis draws examples.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
INTAKE = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
FUZZ = settings(
    # FUZZ_EXAMPLES=1000 for a longer local run; CI keeps the suite quick
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text as hostile senders write it: any code point, lone surrogates and NUL included, plus
# words that steer the bot (system names, status words, mentions, markup).
NASTY = st.sampled_from(
    [
        "\x00",
        "\ud83d",
        "\udc00x",
        "billing-router",
        "[RESOLVED] billing-router",
        "[FIRING:1] BillingRouterErrorRate",
        "<@U0ALICE01>",
        "<!channel>",
        "status" + ":" * 300,
        "[firing on" + " " * 300,
        "\u2039" * 500,  # the HTML-to-text step once went quadratic on these
        "!\n" * 300,
        "<b>" * 200,
        "%00",
        "é",
    ]
)
TEXT = st.one_of(st.text(st.characters(exclude_categories=()), max_size=60), NASTY)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
DEEP = st.integers(min_value=30, max_value=3000).map(lambda n: "[" * n + "]" * n)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, template: Any) -> Any:
    """The template with one to four of its values (at any depth) replaced by fuzz."""
    doc = copy.deepcopy(template)
    for path in draw(st.lists(st.sampled_from(list(_paths(doc))), min_size=1, max_size=4)):
        value = draw(JSON)
        if not path:
            return value
        holder = doc
        try:
            for part in path[:-1]:
                holder = holder[part]
            holder[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    return doc


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # lone surrogates go out as \\udXXX escapes


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[InThread]:
    running = InThread()
    with pytest.MonkeyPatch.context() as monkeypatch:
        running.start(tmp_path_factory.mktemp("fuzz"), monkeypatch)
        try:
            yield running
        finally:
            running.close()


def _assert_healthy(server: InThread) -> None:
    assert server.server is not None
    assert server.run(server.server.runtime.background.drain(within=30)), "background work hung"
    server.run(server.server.assert_healthy())


# ---- Slack ----------------------------------------------------------------------------------


def _message(**fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": ALERTS,
        "user": "U0BOB0002",
        "text": "billing-router: error rate 12% above threshold",
        "ts": "1800000000.000100",
        **fields,
    }


EVENTS = [
    event_callback(_message()),
    event_callback(
        _message(
            subtype="bot_message",
            bot_id="B0GRAFANA",
            attachments=[{"title": "[FIRING:1] BillingRouterErrorRate", "text": "5xx"}],
            blocks=[
                {
                    "type": "rich_text",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "x"}]}
                    ],
                }
            ],
        )
    ),
    event_callback(
        _message(
            subtype="message_changed",
            message=_message(text="[RESOLVED] billing-router", bot_id="B0PD"),
        )
    ),
    event_callback({"type": "app_mention", "user": "U0BOB0002", "text": f"<@{BOT_USER}> hi"}),
    {"type": "url_verification", "challenge": "abc", "token": "t"},
]


@st.composite
def slack_event_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=300)), "application/json"
    if kind == 1:
        return ('{"type": "event_callback", "event": ' + draw(DEEP) + "}").encode(), "json"
    body = draw(mutated(draw(st.sampled_from(EVENTS))))
    if isinstance(body, dict) and "event_id" in body:
        body["event_id"] = f"Ev{draw(st.uuids()).hex}"
    return _dumps(body), "application/json"


@FUZZ
@given(sent=slack_event_bodies())
def test_fuzz_slack_events(server: InThread, sent: tuple[bytes, str]) -> None:
    body, content_type = sent
    headers = {"Content-Type": content_type, **signed_headers(body)}
    assert server.post("/slack/events", body, headers) < 500


COMMAND = {
    "token": "legacy-verification-token",
    "team_id": TEAM,
    "team_domain": "acme-test",
    "channel_id": ALERTS,
    "channel_name": "alerts",
    "user_id": "U0CAROL03",
    "user_name": "carol",
    "command": "/stop",
    "text": "billing-router because",
    "api_app_id": "A0BOTAPP1",
    "response_url": "http://127.0.0.1:9/commands/1",
    "trigger_id": "1337.42.abcd",
}


@st.composite
def slack_command_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=300))
    form = dict(COMMAND)
    form["command"] = draw(st.sampled_from(["/stop", "/who-owns", "/resume", "/x", ""]))
    for key in draw(st.lists(st.sampled_from(sorted(COMMAND)), max_size=4)):
        form[key] = draw(TEXT)
    if draw(st.booleans()):
        form[draw(TEXT)] = draw(TEXT)
    return urlencode(form, errors="surrogatepass").encode()


@FUZZ
@given(body=slack_command_bodies())
def test_fuzz_slack_commands(server: InThread, body: bytes) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    assert server.post("/slack/events", body, headers) < 500


ACTION = {
    "type": "block_actions",
    "user": {"id": "U0ALICE01", "username": "alice", "team_id": TEAM},
    "api_app_id": "A0BOTAPP1",
    "token": "legacy-verification-token",
    "team": {"id": TEAM, "domain": "acme-test"},
    "channel": {"id": ALERTS, "name": "alerts"},
    "trigger_id": "1337.42.abcd",
    "response_url": "http://127.0.0.1:9/actions/1",
    "container": {
        "type": "message",
        "message_ts": "1800000000.000200",
        "channel_id": ALERTS,
        "is_ephemeral": False,
    },
    "message": {"ts": "1800000000.000200", "text": "claim", "blocks": []},
    "actions": [
        {
            "action_id": "ack",
            "block_id": "actions",
            "type": "button",
            "value": "1",
            "text": {"type": "plain_text", "text": "Acknowledge"},
        }
    ],
}


@st.composite
def slack_action_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return b"payload=" + draw(st.binary(max_size=200))
    if kind == 1:
        return urlencode({"payload": '{"type": "block_actions", "x": ' + draw(DEEP) + "}"}).encode()
    payload = draw(mutated(ACTION))
    return urlencode({"payload": json.dumps(payload)}).encode()


@FUZZ
@given(body=slack_action_bodies())
def test_fuzz_slack_actions(server: InThread, body: bytes) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    assert server.post("/slack/events", body, headers) < 500


def test_slack_is_healthy_after_fuzzing(server: InThread) -> None:
    # runs after the three Slack fuzz tests of this module (pytest keeps file order)
    _assert_healthy(server)


# ---- HTTP alert intake ----------------------------------------------------------------------


def _fixture(name: str) -> Any:
    return json.loads((INTAKE / name).read_text())


def _without_fingerprints(payload: Any) -> Any:
    # older senders omit it, and the bot derives one from the labels
    stripped = copy.deepcopy(payload)
    for alert in stripped["alerts"]:
        alert.pop("fingerprint", None)
    return stripped


INTAKE_TEMPLATES = {
    "/alerts/alertmanager": [
        _fixture("alertmanager_firing.json"),
        _without_fingerprints(_fixture("alertmanager_firing.json")),
        _fixture("alertmanager_resolved.json"),
    ],
    "/alerts/grafana": [
        _fixture("grafana_firing.json"),
        _without_fingerprints(_fixture("grafana_resolved.json")),
    ],
    "/alerts": [_fixture("generic_firing.json"), {"title": "t", "text": "", "status": "firing"}],
}


@st.composite
def intake_bodies(draw: st.DrawFn, path: str) -> bytes:
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return ('{"alerts": ' + draw(DEEP) + "}").encode()
    template = draw(st.sampled_from(INTAKE_TEMPLATES[path]))
    return _dumps(draw(mutated(template)))


def _intake(server: InThread, path: str, body: bytes) -> None:
    headers = {"Content-Type": "application/json", **AUTH}
    assert server.post(path, body, headers) < 500


@FUZZ
@given(body=intake_bodies("/alerts/alertmanager"))
def test_fuzz_intake_alertmanager(server: InThread, body: bytes) -> None:
    _intake(server, "/alerts/alertmanager", body)


@FUZZ
@given(body=intake_bodies("/alerts/grafana"))
def test_fuzz_intake_grafana(server: InThread, body: bytes) -> None:
    _intake(server, "/alerts/grafana", body)


@FUZZ
@given(body=intake_bodies("/alerts"))
def test_fuzz_intake_generic(server: InThread, body: bytes) -> None:
    _intake(server, "/alerts", body)


def test_intake_is_healthy_after_fuzzing(server: InThread) -> None:
    _assert_healthy(server)
