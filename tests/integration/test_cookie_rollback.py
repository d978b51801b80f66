"""Sealed cookie sessions cannot be rolled back past a rotation or a logout (R27, R55).

A client holding an older copy of its sealed cookie could replay it and bring back the state
it carries: a role the application removed, a session it logged out. With a revocation store
(``CookieStore(revocation=...)``) every cookie carries its session's ID and pin, and a login,
``rotate()``, ``elevate()``, ``reauthenticate()`` or logout raises the session's floor in the
store, so every earlier copy is refused. Runs on the memory store and on real Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from sessionary import SessionManager
from sessionary.exceptions import StoreUnavailableError
from sessionary.sansio.cookie_state import PinCookie
from sessionary.sansio.events import EventName
from sessionary.sansio.session import Session
from sessionary.stores import CookieStore, MemoryStore, RedisStore
from sessionary.stores.base import SessionStore
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests.redis_counting import CountingRedis

NAME = "__Host-session"
Handler = Callable[[Session], object]


class Client:
    """A browser keeping its sealed cookie; ``copy`` is what an attacker (or a backup) kept."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self.cookie: str | None = None
        self.cleared = False

    def request(self, handler: Handler | None = None, cookie: str | None = None) -> Session:
        value = cookie if cookie is not None else self.cookie
        cycle = self.manager.open([f"{NAME}={value}"] if value else [])
        session = cycle.session
        if handler is not None:
            handler(session)
        update = self.manager.commit(cycle)
        self.cleared = update.set_cookie is not None and "Max-Age=0" in update.set_cookie
        if update.set_cookie is not None and cookie is None:
            self.cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1] or None
        return session


@pytest.fixture(params=["memory", "redis"])
def revocation(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[SessionStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    request.getfixturevalue("redis_admin")  # cleanup of this test's keys
    url = request.getfixturevalue("redis_url")
    store = RedisStore(CountingRedis.from_url(url), prefix=key_prefix)
    yield store
    store.client.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_750_000_000)


@pytest.fixture
def observer() -> CapturingObserver:
    return CapturingObserver()


@pytest.fixture
def manager(
    revocation: SessionStore, clock: FakeClock, observer: CapturingObserver
) -> SessionManager:
    return SessionManager(
        CookieStore(revocation=revocation), session_config(clock=clock), observer=observer
    )


def grant_admin(session: Session) -> None:
    session.login("ada")
    session["role"] = "admin"


def revoke_role(session: Session) -> None:
    session.pop("role")
    session.rotate()  # this change must not be rolled back


def contents(session: Session) -> tuple[str | None, dict[str, Any]]:
    return session.user_id, dict(session)


def replay_after(client: Client, clock: FakeClock, first: Handler, change: Handler) -> Session:
    """Run ``first``, keep a copy of the cookie, run ``change``, then replay the copy."""
    client.request(first)
    copy = client.cookie
    assert copy is not None
    clock.advance(1)
    client.request(change)
    assert client.cookie != copy
    return client.request(cookie=copy)


def test_a_removed_role_does_not_come_back_from_an_older_cookie(
    manager: SessionManager, observer: CapturingObserver, clock: FakeClock
) -> None:
    client = Client(manager)
    replayed = replay_after(client, clock, grant_admin, revoke_role)
    assert contents(replayed) == (None, {})  # anonymous: not {'role': 'admin'}
    assert not client.cleared  # the browser's newer cookie is left alone
    assert observer.of(EventName.INVALID_ID)[-1].detail["reason"] == "superseded"
    assert contents(client.request()) == ("ada", {})  # the current cookie still works


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.rotate(),
        lambda s: s.elevate(),
        lambda s: s.reauthenticate(),
        lambda s: s.login("ada"),
        lambda s: s.login("bob"),
    ],
    ids=["rotate", "elevate", "reauthenticate", "login-again", "login-as-another"],
)
def test_the_old_cookie_stops_working_at_once(
    manager: SessionManager, clock: FakeClock, change: Handler
) -> None:
    client = Client(manager)
    assert contents(replay_after(client, clock, grant_admin, change)) == (None, {})
    assert client.request().user_id in ("ada", "bob")


def test_login_supersedes_the_anonymous_cookie_before_it(
    manager: SessionManager, clock: FakeClock
) -> None:
    client = Client(manager)
    replayed = replay_after(client, clock, lambda s: s.update(cart=[1]), lambda s: s.login("ada"))
    assert contents(replayed) == (None, {})
    assert contents(client.request()) == ("ada", {"cart": [1]})


def test_logout_ends_every_copy_and_clears_it(
    manager: SessionManager, observer: CapturingObserver, clock: FakeClock
) -> None:
    client = Client(manager)
    replayed = replay_after(client, clock, grant_admin, lambda s: s.logout())
    assert client.cookie is None  # the logout cleared the browser's cookie
    assert contents(replayed) == (None, {})
    assert client.cleared  # and a logged-out copy is cleared too
    assert observer.of(EventName.INVALID_ID)[-1].detail["reason"] == "logged out"


def test_a_write_after_logout_starts_a_session_that_is_not_ended(
    manager: SessionManager, clock: FakeClock
) -> None:
    client = Client(manager)
    client.request(grant_admin)
    clock.advance(1)

    def logout_with_a_message(session: Session) -> None:
        session.logout()
        session["flash"] = "bye"

    client.request(logout_with_a_message)
    assert contents(client.request()) == (None, {"flash": "bye"})


def test_a_write_without_a_rotation_can_still_be_rolled_back(
    manager: SessionManager, clock: FakeClock
) -> None:
    """The documented limit: only a rotation (or login, logout) raises the floor."""
    client = Client(manager)
    replayed = replay_after(client, clock, grant_admin, lambda s: s.pop("role"))  # no rotate()
    assert contents(replayed) == ("ada", {"role": "admin"})


def test_two_rotations_in_the_same_millisecond_still_supersede(manager: SessionManager) -> None:
    client = Client(manager)
    client.request(grant_admin)
    first = client.cookie
    client.request(lambda s: s.rotate())
    second = client.cookie
    client.request(revoke_role)  # the clock did not move: the pin still rises
    assert contents(client.request(cookie=first)) == (None, {})
    assert contents(client.request(cookie=second)) == (None, {})
    assert contents(client.request()) == ("ada", {})


def test_the_floor_never_goes_down(revocation: SessionStore, clock: FakeClock) -> None:
    now = int(clock() * 1000)
    pin = revocation.pin_cookie  # type: ignore[attr-defined]
    assert pin(PinCookie("k", 500, now, 60_000)) == 500
    assert pin(PinCookie("k", 400, now, 1_000)) == 500  # an older, racing pin
    assert pin(PinCookie("k", 900, now, 1_000)) == 900


def test_an_authenticated_request_is_one_round_trip_on_redis(
    request: pytest.FixtureRequest, key_prefix: str, clock: FakeClock
) -> None:
    request.getfixturevalue("redis_admin")
    counting = CountingRedis(
        connection_pool=redis.ConnectionPool.from_url(request.getfixturevalue("redis_url"))
    )
    store = RedisStore(counting, prefix=key_prefix)
    sent = counting.sent
    manager = SessionManager(CookieStore(revocation=store), session_config(clock=clock))
    try:
        client = Client(manager)
        client.request(lambda s: s.update(a=1))
        assert sent == []  # a new session reads and writes nothing
        client.request()
        assert sent == ["GET"]  # anonymous cookie: its floor
        sent.clear()
        client.request(lambda s: s.login("ada"))
        assert sent == ["GET", "EVALSHA"]  # the floor, then the login's pin
        sent.clear()
        client.request(lambda s: s.update(b=2))
        assert sent == ["MGET"]  # floor and user epoch together: one round trip
    finally:
        store.client.close()


class FailingPins(MemoryStore):
    """A revocation store that reads but cannot write (a primary gone read-only)."""

    def pin_cookie(self, op: PinCookie) -> int:
        msg = "the revocation store is unavailable"
        raise StoreUnavailableError(msg)


def test_a_rotation_whose_pin_fails_is_refused_and_sends_no_cookie(clock: FakeClock) -> None:
    manager = SessionManager(CookieStore(revocation=FailingPins()), session_config(clock=clock))
    client = Client(manager)
    client.request(grant_admin)
    cycle = manager.open([f"{NAME}={client.cookie}"])
    cycle.session.rotate()
    with pytest.raises(StoreUnavailableError):
        manager.commit(cycle)
    with pytest.raises(Exception, match="response"):
        cycle.response()  # the new cookie never leaves
