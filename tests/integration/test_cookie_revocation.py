"""Sealed cookie sessions and "log out everywhere" (R55, R61): with a revocation store, the
user epoch ends cookie sessions too; without one, nothing is read and a copy outlives logout."""

from __future__ import annotations

import pytest

from sessionary import SessionManager
from sessionary.config import StoreDownPolicy
from sessionary.exceptions import ConfigurationError, SessionStateError, StoreUnavailableError
from sessionary.sansio.cookie_state import CookieState, ReadCookieState
from sessionary.sansio.core import SessionCore
from sessionary.sansio.events import EventName
from sessionary.sansio.keys import KeyRing
from sessionary.stores import CookieStore, MemoryStore, RedisStore
from sessionary.stores.base import SessionStore
from sessionary.testing import FakeClock, capture_events, session_config
from tests.browser import Browser

NAME = "__Host-session"


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_revoke_user_ends_sealed_cookie_sessions(
    kind: str, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    clock = FakeClock(1_750_000_000)
    epochs: SessionStore
    if kind == "redis":
        request.getfixturevalue("redis_admin")
        epochs = RedisStore.from_url(request.getfixturevalue("redis_url"), prefix=key_prefix)
    else:
        epochs = MemoryStore()
    events = capture_events()
    manager = SessionManager(
        CookieStore(revocation=epochs), session_config(clock=clock), observer=events
    )
    try:
        laptop, phone, guest = Browser(manager), Browser(manager), Browser(manager)
        laptop.request(login="ada")
        phone.request(login="ada")
        guest.request(login="bob")
        copied = laptop.cookie
        clock.advance(1)
        manager.revoke_user("ada")  # account disabled / "log out everywhere"
        clock.advance(1)
        assert laptop.request() is None
        assert laptop.cookie is None  # cleared
        assert phone.request() is None
        assert Browser(manager).request(cookie=copied) is None  # copies too
        assert guest.request() == "bob"  # other users untouched
        assert events.of(EventName.REVOKED)
        laptop.request(login="ada")  # a login after the revocation works
        assert laptop.request() == "ada"
    finally:
        epochs.close()


def test_an_anonymous_cookie_reads_its_floor_only() -> None:
    core = SessionCore(session_config(), mode=CookieStore(revocation=MemoryStore()))
    cycle = core.begin([])
    cycle.session["a"] = 1
    cycle.finish()
    assert cycle.next_op() is None  # a new session: nothing to pin
    cookie = str(cycle.response().set_cookie).split(";", 1)[0]
    anonymous = core.begin([cookie])
    request = anonymous.next_op()
    assert isinstance(request, ReadCookieState)
    assert request.user_key is None  # no epoch to read
    with pytest.raises(SessionStateError):
        _ = anonymous.session  # nothing is admitted before the floor is known
    anonymous.send(CookieState(None, None))
    assert dict(anonymous.session) == {"a": 1}
    with pytest.raises(SessionStateError, match="no operation is pending"):
        anonymous.send(CookieState(None, None))


def test_an_authenticated_cookie_reads_its_tenant_scoped_floor_and_epoch() -> None:
    core = SessionCore(session_config(), mode=CookieStore(revocation=MemoryStore()))
    cycle = core.begin([], tenant="t1")
    cycle.session.login("ada")
    cycle.finish()
    cookie = str(cycle.response().set_cookie).split(";", 1)[0]
    again = core.begin([cookie], tenant="t1")
    request = again.next_op()
    assert isinstance(request, ReadCookieState)
    assert request.user_key == KeyRing.user_key("ada", "t1")
    other = core.begin([cookie], tenant="t2")  # another tenant: the AAD refuses it anyway
    assert other.next_op() is None
    again.send(CookieState(None, None))
    assert again.session.user_id == "ada"


def test_a_down_revocation_store_fails_closed() -> None:
    down = RedisStore.from_url("redis://127.0.0.1:1/0", timeout=0.2, retries=0)
    manager = SessionManager(CookieStore(revocation=MemoryStore()), session_config())
    browser = Browser(manager)
    browser.request(login="ada")
    broken = SessionManager(CookieStore(revocation=down), manager.config)
    cycle = broken.open([f"{NAME}={browser.cookie}"])
    with pytest.raises(StoreUnavailableError):
        _ = cycle.session.user_id
    assert broken.commit(cycle).set_cookie is None  # the client's cookie is left alone
    down.close()


def test_a_route_s_store_down_policy_applies_to_cookie_sessions_too() -> None:
    # A per-request fail_open_readonly reaches the sealed mode as it reaches server stores.
    down = RedisStore.from_url("redis://127.0.0.1:1/0", timeout=0.2, retries=0)
    manager = SessionManager(CookieStore(revocation=MemoryStore()), session_config())
    browser = Browser(manager)
    browser.request(login="ada")
    broken = SessionManager(CookieStore(revocation=down), manager.config)
    cycle = broken.open([f"{NAME}={browser.cookie}"], store_down=StoreDownPolicy.FAIL_OPEN_READONLY)
    assert cycle.session.read_only
    assert cycle.session.user_id is None  # an empty read-only view, never the unchecked one
    assert broken.commit(cycle).set_cookie is None
    down.close()


def test_the_revocation_store_must_keep_epochs() -> None:
    with pytest.raises(ConfigurationError, match="per-user epochs"):
        SessionManager(CookieStore(revocation=object()), session_config())
    plain = SessionManager(CookieStore(), session_config())
    with pytest.raises(ConfigurationError, match="per-user indexes"):
        plain.revoke_user("ada")
