"""The seven answers for constructed histories; evidence links filled safely; stable JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot import review_views as views
from bot.domain import Alert, AlertState
from bot.evidence_links import fill_link
from bot.registry import Registry
from bot.review import (
    Contract,
    FollowUp,
    ResolveForm,
    ReviewRecord,
    TimelineEntry,
    contract_of,
    review,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
NAMES = {"alice": "Alice Ng", "bob": "Bob Ruiz", "carol": "Carol Diaz", "dana": "Dana Wu"}
THEN = Contract(
    version="a" * 64,
    system="billing-router",
    name="Billing ticket router",
    operator="alice",
    maintainer="bob",
    steward="carol",
    stop_authority="carol",
    purpose="Scores inbound billing tickets for urgency.",
    operator_checks=("urgent tickets reach the urgent queue", "scores look calibrated"),
    evidence=(
        ("Dashboard", "https://grafana.example/d/br?from={from}&to={to}&var-alert={alert_id}"),
        ("Prompt", "https://git.example/prompts/{label.prompt_version}"),
    ),
    names=NAMES,
)


def alert(**over: object) -> Alert:
    base: dict[str, object] = {
        "id": 7,
        "platform": "slack",
        "channel": "C0ALERTS1",
        "system": "billing-router",
        "fingerprint": "f00",
        "title": "p99 latency 2.3s",
        "text": "p99 latency 2.3s",
        "state": AlertState.RESOLVED,
        "holder": "alice",
        "opened_at": T0,
        "resolved_by": "alice",
        "resolved_at": T0 + 30 * MIN,
    }
    base.update(over)
    return Alert(**base)  # type: ignore[arg-type]


def entry(seq: int, minutes: int, actor: str, action: str, **detail: object) -> TimelineEntry:
    return TimelineEntry(seq, T0 + minutes * MIN, actor, action, detail)


CLAIMED = entry(1, 0, "accountability-bot", "alert.claimed", holder="alice")
FORM = ResolveForm(
    by="alice",
    at=T0 + 31 * MIN,
    skipped=False,
    failure_class="bad_source",
    why_passed="the upstream feed sent stale prices",
)
FOLLOW = FollowUp(1, "pin the feed version", "bob", T0 + 7 * 1440 * MIN, "alice", T0 + 31 * MIN)


def test_acknowledged_alert_with_a_full_record_answers_all_seven() -> None:
    record = ReviewRecord(
        alert=alert(),
        timeline=(
            CLAIMED,
            entry(2, 2, "alice", "alert.acknowledged"),
            entry(3, 30, "alice", "alert.resolved"),
        ),
        form=FORM,
        follow_ups=(FOLLOW,),
        version=THEN.version,
    )
    r = review(record=record, then=THEN, now=THEN)
    assert r.answered == 7 and r.missing == ()
    one, two, three, four, five, six, seven = r.answers
    assert one.text.startswith("Carol Diaz (steward of billing-router) owned the outcome;")
    assert "claimed for Alice Ng at 2026-11-02 09:00 UTC" in one.text
    assert "acknowledged by Alice Ng at 2026-11-02 09:02 UTC" in one.text
    assert one.sources[0] == "registry aaaaaaaaaaaa (in force when taken)"
    assert "evidence #2 alert.acknowledged at 2026-11-02 09:02 UTC" in one.sources
    assert two.text == THEN.purpose
    assert three.text == "urgent tickets reach the urgent queue; scores look calibrated"
    assert "Dashboard: https://grafana.example/d/br?from=" in four.text
    assert "Not filled (the alert lacks their values): Prompt." in four.text
    assert five.text == "the upstream feed sent stale prices"
    assert six.text == "bad source" and six.sources == (
        "resolve form by alice at 2026-11-02 09:31 UTC",
    )
    assert "pin the feed version (owner Bob Ruiz, due 2026-11-09 09:00 UTC, open)" in seven.text
    assert r.changed_since == ()


def test_escalated_and_handed_off_alert_names_every_holder() -> None:
    record = ReviewRecord(
        alert=alert(holder="dana"),
        timeline=(
            CLAIMED,
            entry(2, 10, "accountability-bot", "alert.escalated", person="bob", label="maintainer"),
            entry(3, 12, "bob", "alert.acknowledged"),
            entry(4, 15, "bob", "alert.handed_off", **{"from": "bob", "to": "dana"}),
            entry(5, 30, "dana", "alert.resolved"),
        ),
        version=THEN.version,
    )
    r = review(record=record, then=THEN, now=THEN)
    text = r.answers[0].text
    assert "escalated to Bob Ruiz at 2026-11-02 09:10 UTC" in text
    assert "handed off to Dana Wu at 2026-11-02 09:15 UTC" in text
    assert "resolved by Dana Wu" in text
    assert r.missing == (5, 6, 7)
    assert r.answers[4].text == "Not recorded: no resolve form was submitted."
    assert "no follow-up action (learning owner now: Bob Ruiz)" in r.answers[6].text


def test_a_stop_while_open_is_in_the_answer_and_the_timeline() -> None:
    record = ReviewRecord(
        alert=alert(),
        timeline=(
            CLAIMED,
            entry(2, 5, "carol", "stop.requested", request=1),
            entry(3, 6, "carol", "stop.succeeded", request=1),
        ),
        version=THEN.version,
    )
    r = review(record=record, then=THEN, now=THEN)
    assert "stop succeeded by Carol Diaz at 2026-11-02 09:06 UTC" in r.answers[0].text
    assert "stop.succeeded by carol" in views.markdown(r)


def test_registry_changed_in_between_names_who_owned_it_then() -> None:
    now = Contract(
        version="b" * 64,
        system="billing-router",
        name="Billing ticket router",
        operator="alice",
        maintainer="bob",
        steward="dana",
        stop_authority="dana",
        learning_owner="alice",
        names=NAMES,
    )
    record = ReviewRecord(alert=alert(), timeline=(CLAIMED,), version=THEN.version)
    r = review(record=record, then=THEN, now=now)
    assert r.answers[0].text.startswith("Carol Diaz (steward of billing-router)")
    assert r.changed_since[0] == (
        "registry changed since: version aaaaaaaaaaaa then, bbbbbbbbbbbb now"
    )
    assert "steward: Carol Diaz then, Dana Wu now" in r.changed_since
    assert "learning owner: Bob Ruiz then, Alice Ng now" in r.changed_since
    assert "purpose changed" in r.changed_since
    assert "(learning owner now: Alice Ng)" in r.answers[6].text
    assert "## Changed since" in views.markdown(r)


def test_nothing_recorded_says_so_plainly() -> None:
    bare = alert(system="gone-system", state=AlertState.OPEN, resolved_at=None, resolved_by=None)
    r = review(record=ReviewRecord(alert=bare), then=None, now=None)
    assert r.answered == 0 and r.missing == (1, 2, 3, 4, 5, 6, 7)
    assert all(a.text.startswith("Not recorded") for a in r.answers)
    text = views.markdown(r)
    assert "**0 of 7 answered.** Missing: 1, 2, 3, 4, 5, 6, 7." in text
    assert "- nothing recorded" in text


def test_skipped_form_and_the_current_registry_as_fallback() -> None:
    skipped = ResolveForm(by="alice", at=T0 + 31 * MIN, skipped=True)
    r = review(record=ReviewRecord(alert=alert(), form=skipped), then=None, now=THEN)
    assert "(current; the version in force then is not on record)" in r.answers[0].sources[0]
    assert (
        r.answers[4].text == "Not recorded: alice skipped the resolve form at 2026-11-02 09:31 UTC."
    )
    assert not r.answers[5].answered


def test_not_a_failure_needs_no_follow_up() -> None:
    form = ResolveForm(by="alice", at=T0, skipped=False, failure_class="not_a_failure",
                       why_passed="it was a planned load test")  # fmt: skip
    r = review(record=ReviewRecord(alert=alert(), form=form), then=THEN, now=THEN)
    assert r.answers[6].answered and r.answers[6].text.startswith("Nothing to change")


def test_unowned_alert_answers_nobody() -> None:
    lone = alert(system=None, holder="dana")
    record = ReviewRecord(
        alert=lone, timeline=(entry(1, 0, "accountability-bot", "alert.unowned", holder="dana"),)
    )
    r = review(record=record, then=None, now=None)
    assert r.answers[0].answered
    assert r.answers[0].text.startswith("Nobody: no system in the registry matched this alert")


def test_fill_link_substitutes_linearly_and_refuses_what_it_cannot_fill() -> None:
    values = {"system": "billing router", "alert_id": "7", "label.env": "a&b=c/d"}
    assert fill_link("https://x/{system}/{alert_id}?e={label.env}", values) == (
        "https://x/billing%20router/7?e=a%26b%3Dc%2Fd"
    )
    assert fill_link("https://x/{missing}", values) is None
    assert fill_link("https://x/{system.__class__}", values) is None
    assert fill_link("https://x/{0}", values) is None
    assert fill_link("https://x/{system", values) is None
    assert fill_link("javascript:alert(1)", values) is None
    assert fill_link("https://x/no-placeholders", values) == "https://x/no-placeholders"
    assert fill_link("https://x/" + "{" * 100_000, values) is None


@given(st.text(max_size=300), st.dictionaries(st.text(max_size=10), st.text(max_size=20)))
def test_fill_link_never_raises_and_never_leaks_a_brace_from_a_value(
    template: str, values: dict[str, str]
) -> None:
    url = fill_link("https://x/" + template, values)
    if url is not None:
        assert url.startswith("https://x/")


def test_json_is_stable_and_the_card_counts_answers() -> None:
    record = ReviewRecord(alert=alert(), timeline=(CLAIMED,), form=FORM, version=THEN.version)
    r = review(record=record, then=THEN, now=THEN)
    doc = json.loads(views.to_json(r))
    assert sorted(doc) == [
        "alert", "answered", "answers", "changed_since", "links", "missing",
        "registry_version_now", "registry_version_then", "timeline", "version",
    ]  # fmt: skip
    assert doc["answered"] == 6 and doc["missing"] == [7]
    assert doc["answers"][5] == {
        "number": 6,
        "question": r.answers[5].question,
        "answer": "bad source",
        "answered": True,
        "sources": ["resolve form by alice at 2026-11-02 09:31 UTC"],
    }
    assert doc["timeline"][0]["detail"] == {"holder": "alice"}
    card = views.card(r)
    assert card.plain_text().splitlines()[1] == "6 of 7 answered; missing: 7."
    assert card.tone == "warning"


def test_contract_from_the_loaded_registry(registry: Registry) -> None:
    c = contract_of(registry, "billing-router")
    assert c is not None and c.version == registry.version
    assert (c.operator, c.steward, c.changer) == ("alice", "carol", "bob")
    assert c.description and c.name_of("carol") == "Carol Diaz"
    assert contract_of(registry, "nope") is None and contract_of(registry, None) is None
