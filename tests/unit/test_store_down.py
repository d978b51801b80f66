"""Store-down policies in the sans-IO core: ``fail_closed`` and ``fail_open_readonly``.

The cycle is driven by hand: a presented ID makes it ask for a ``Load``, and the store's
failure is fed back with ``cycle.fail``; no I/O anywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionary.config import StoreDownPolicy
from sessionary.exceptions import (
    ConfigurationError,
    SessionReadOnlyError,
    StoreTimeoutError,
    StoreUnavailableError,
)
from sessionary.sansio.core import SessionCore
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import mint_token
from sessionary.sansio.ops import Load
from sessionary.sansio.session import Session
from sessionary.testing import session_config

COOKIE_NAME = session_config().cookie.name


def failed_cycle(
    policy: StoreDownPolicy | None = None,
    *,
    app_policy: StoreDownPolicy | str = StoreDownPolicy.FAIL_CLOSED,
) -> SessionCycle:
    """A request with a well-formed session cookie whose load failed."""
    core = SessionCore(session_config(store_down=app_policy))
    cookie = f"{COOKIE_NAME}={mint_token().value}"
    cycle = core.begin([cookie], store_down=policy)
    assert isinstance(cycle.next_op(), Load)
    cycle.fail(StoreTimeoutError("slow"))
    return cycle


def names(cycle: SessionCycle) -> list[EventName]:
    return [event.name for event in cycle.drain_events()]


def test_fail_closed_is_the_default() -> None:
    assert session_config().store_down is StoreDownPolicy.FAIL_CLOSED


def test_fail_closed_refuses_a_handler_that_touches_the_session() -> None:
    cycle = failed_cycle()
    assert names(cycle) == []  # nothing refused yet: the handler may not need the session
    with pytest.raises(StoreTimeoutError):
        cycle.session.get("cart")
    cycle.finish()
    assert cycle.next_op() is None  # no write
    assert cycle.response().set_cookie is None  # the client's cookie is left alone
    events = cycle.drain_events()
    assert [e.name for e in events] == [EventName.FAIL_CLOSED]
    assert events[0].detail == {"reason": "StoreTimeoutError"}


def test_fail_closed_serves_a_handler_that_never_touches_the_session() -> None:
    cycle = failed_cycle()
    cycle.finish()
    assert cycle.response().set_cookie is None
    assert names(cycle) == []


def test_a_refusal_is_recorded_once() -> None:
    cycle = failed_cycle()
    with pytest.raises(StoreTimeoutError):
        cycle.session["a"] = 1
    cycle.refuse(StoreUnavailableError("down"))  # the adapter's 503
    cycle.finish()
    cycle.refuse(StoreUnavailableError("down"))
    assert names(cycle) == [EventName.FAIL_CLOSED]


def test_fail_open_readonly_gives_an_empty_anonymous_session() -> None:
    cycle = failed_cycle(StoreDownPolicy.FAIL_OPEN_READONLY)
    events = cycle.drain_events()
    assert [e.name for e in events] == [EventName.FAIL_OPEN_READONLY]
    assert events[0].detail == {"reason": "StoreTimeoutError"}
    session = cycle.session
    assert session.read_only
    assert not session.unavailable
    assert session.is_new
    assert session.get("cart") is None
    assert "cart" not in session
    assert dict(session) == {}
    assert len(session) == 0
    assert session.user_id is None
    assert session.auth_time is None
    cycle.finish()
    assert cycle.next_op() is None
    update = cycle.response()
    assert update.set_cookie is None
    assert update.vary_cookie  # the response still depends on the cookie
    assert names(cycle) == []  # served: not a refusal


WRITES: list[Callable[[Session], object]] = [
    lambda s: s.__setitem__("a", 1),
    lambda s: s.__delitem__("a"),
    lambda s: s.clear(),
    lambda s: s.login("alice"),
    lambda s: s.logout(),
    lambda s: s.rotate(),
    lambda s: s.setdefault("a", 1),
    lambda s: s.update({"a": 1}),
]


@pytest.mark.parametrize("write", WRITES)
def test_every_write_to_the_read_only_view_raises(write: Callable[[Session], object]) -> None:
    cycle = failed_cycle(StoreDownPolicy.FAIL_OPEN_READONLY)
    with pytest.raises(SessionReadOnlyError) as info:
        write(cycle.session)
    assert isinstance(info.value, StoreUnavailableError)  # adapters answer 503
    assert isinstance(info.value.__cause__, StoreTimeoutError)
    cycle.finish()
    assert cycle.next_op() is None
    assert cycle.response().set_cookie is None


def test_the_request_policy_overrides_the_application_policy() -> None:
    app_open = failed_cycle(StoreDownPolicy.FAIL_CLOSED, app_policy="fail_open_readonly")
    assert app_open.session.unavailable
    assert not app_open.session.read_only
    app_default = failed_cycle(app_policy=StoreDownPolicy.FAIL_OPEN_READONLY)
    assert app_default.session.read_only


def test_no_cookie_means_no_load_and_no_policy_at_all() -> None:
    core = SessionCore(session_config(store_down="fail_open_readonly"))
    cycle = core.begin([])
    assert cycle.next_op() is None
    cycle.session["a"] = 1  # a normal new session: the store is not involved yet
    assert names(cycle) == []


def test_the_policy_is_validated() -> None:
    assert session_config(store_down="fail_open_readonly").store_down is (
        StoreDownPolicy.FAIL_OPEN_READONLY
    )
    with pytest.raises(ConfigurationError, match="store_down"):
        session_config(store_down="fail_open")
    assert "store_down='fail_closed'" in repr(session_config())
