"""Internal fields are unreachable from attribute names, on every store and mode (R41).

Whatever name an application stores a value under — user-chosen keys, a name spelled like
an internal field (``\\x00sessionary-meta``, ``\\xffm``), control characters — it reads
back as written and never corrupts the record, with and without encryption at rest.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionary import SessionManager
from sessionary.sansio.events import EventName
from sessionary.stores.base import SessionStore
from sessionary.testing import CapturingObserver, session_config

SPELLED_LIKE_INTERNALS = ["\x00sessionary-meta", "\xffm", "\xffu", "\xffx", "_v", ""]


@pytest.mark.parametrize("encrypt_at_rest", [False, True], ids=["plain", "encrypted"])
def test_any_attribute_names_round_trip_without_corrupting_the_record(
    sync_store: SessionStore, encrypt_at_rest: bool
) -> None:
    config = session_config(encrypt_at_rest=encrypt_at_rest)
    observer = CapturingObserver()
    manager = SessionManager(sync_store, config, observer=observer)

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(st.lists(st.text(max_size=20), max_size=6))
    def round_trip(extra: list[str]) -> None:
        names = [*SPELLED_LIKE_INTERNALS, *extra]
        values = {name: f"value of {name!r}" for name in names}
        cycle = manager.open([])
        cycle.session.update(values)
        cycle.session.login("ada")
        update = manager.commit(cycle)
        assert update.set_cookie is not None
        cookie = update.set_cookie.split(";", 1)[0]
        for _ in range(2):  # read, then write through it again
            cycle = manager.open([cookie])
            assert dict(cycle.session) == values
            assert cycle.session.user_id == "ada"
            cycle.session[names[-1]] = values[names[-1]] + "!"
            values[names[-1]] += "!"
            manager.commit(cycle)
        assert observer.of(EventName.CORRUPT_RECORD) == []

    round_trip()
