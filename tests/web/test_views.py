"""The systems filter's quick stale check says what `bot.roles.unconfirmed` says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from adapters.web.views import is_stale
from bot.registry import load_registry
from bot.roles import unconfirmed
from tests.web.support import EXAMPLE

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ROLES = ("operator", "maintainer", "steward", "stop_authority")

confirmation = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(["alice", "bob", "carol", "dana"]),
        st.integers(min_value=-200, max_value=5).map(lambda d: NOW + timedelta(days=d)),
    ),
)


SYSTEM = load_registry(EXAMPLE).systems["billing-router"]


@given(st.dictionaries(st.sampled_from(ROLES), confirmation))
def test_quick_stale_check_is_the_rule(held: dict) -> None:  # type: ignore[type-arg]
    system = SYSTEM
    confirmed = {role: c for role, c in held.items() if c is not None}
    slow = any(
        unconfirmed(person, confirmed.get(role), every=system.review_every, now=NOW)
        for role, person in system.roles().items()
    )
    assert is_stale(system, {system.id: confirmed}, NOW) == slow
