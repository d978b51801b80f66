"""The sealed cookie's revocation path, sans I/O: what the core asks and how it judges the answer.

With a revocation store (``CookieStore(revocation=...)``) the sealed flow asks for one read
per request carrying a cookie (the session's floor and its user's epoch) and pins the floor
on a login, a rotation and a logout (docs/security.md R27, R55). The store here is a double
holding floors and epochs in two dicts, so each test sets exactly the answer the core must
judge; the stores' own side is ``tests/_async/test_cookie_state.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionary.sansio.cookie_state import PIN_ENDED, CookieState, PinCookie, ReadCookieState
from sessionary.sansio.core import SessionCore
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import Operation, PinResult, Result
from sessionary.sansio.sealed import b64_decode, decode_payload, session_id
from sessionary.sansio.sealed_flow import cookie_aad
from sessionary.sansio.session import Session
from sessionary.stores import CookieStore
from tests.unit.test_cycle import Harness

START_S = 1_750_000_000  # the Harness's clock
NAME = "__Host-session"


class Revocation:
    """A revocation store double: floors and user epochs, answered as the core asks."""

    def __init__(self) -> None:
        self.floors: dict[str, int] = {}
        self.epochs: dict[str, int] = {}
        self.ops: list[Operation] = []

    def run(self, op: Operation) -> Result:
        self.ops.append(op)
        if isinstance(op, ReadCookieState):
            epoch = None if op.user_key is None else self.epochs.get(op.user_key)
            return CookieState(self.floors.get(op.cookie_key), epoch)
        assert isinstance(op, PinCookie)
        floor = self.floors[op.cookie_key] = max(op.floor, self.floors.get(op.cookie_key, 0))
        return PinResult(floor)


class Browser(Harness):
    """A client holding one sealed cookie, against a core whose cookies a store can revoke."""

    def __init__(self) -> None:
        super().__init__()
        self.store = Revocation()
        self.core = SessionCore(self.config, mode=CookieStore(revocation=self.store))

    def run(self, op: Operation) -> Result:
        return self.store.run(op)

    def replay(self, cookie: str | None) -> SessionCycle:
        """A request presenting an earlier copy of the cookie."""
        cycle, _ = self.request(headers=[f"{NAME}={cookie}"])
        return cycle


def signed_in() -> tuple[Browser, ReadCookieState]:
    """A browser signed in as ada, and the read its next request asks for."""
    browser = Browser()
    browser.request(lambda s: s.login("ada"))
    browser.store.ops.clear()
    cycle, _ = browser.request()
    (read,) = browser.store.ops
    assert isinstance(read, ReadCookieState)
    assert cycle.session.user_id == "ada"
    return browser, read


def named(cycle: SessionCycle) -> list[tuple[EventName, str | None, object]]:
    def line(e: SessionEvent) -> tuple[EventName, str | None, object]:
        return e.name, e.user, e.detail.get("reason")

    return [line(e) for e in cycle.drain_events()]


def cleared(update: ResponseUpdate) -> bool:
    return update.set_cookie is not None and "Max-Age=0" in update.set_cookie


# ------------------------------------------------------------------ the read


def test_each_request_reads_its_sessions_floor_and_its_users_epoch() -> None:
    _, read = signed_in()
    assert read.user_key == KeyRing.user_key("ada", "")
    assert read.now == START_S * 1000
    anonymous = Browser()
    anonymous.request(lambda s: s.update(a=1))
    assert anonymous.store.ops == []  # a new cookie is not read back in its own request
    cycle, _ = anonymous.request()
    (read_anonymous,) = anonymous.store.ops
    assert isinstance(read_anonymous, ReadCookieState)
    assert read_anonymous.user_key is None  # no user: no epoch to read
    assert read_anonymous.cookie_key != read.cookie_key
    assert cycle.session["a"] == 1


def test_a_request_without_a_cookie_reads_nothing() -> None:
    browser = Browser()
    cycle, update = browser.request(lambda s: s.get("a"))
    assert browser.store.ops == []
    assert update.set_cookie is None
    assert cycle.session.is_new


@pytest.mark.parametrize(("offset", "revoked"), [(-1, False), (0, True), (1, True)])
def test_a_login_at_or_before_the_users_epoch_is_revoked(offset: int, revoked: bool) -> None:
    browser, read = signed_in()
    assert read.user_key is not None
    login_ms = START_S * 1000
    browser.store.epochs[read.user_key] = login_ms + offset
    cycle, update = browser.request()
    session = cycle.session
    if not revoked:
        assert session.user_id == "ada"
        assert named(cycle) == []
        assert update.set_cookie is None
        return
    assert session.is_new
    assert session.user_id is None
    assert session.end_reason == "revoked"
    assert named(cycle) == [(EventName.REVOKED, "ada", "user epoch")]
    assert cleared(update)


def test_a_logged_out_session_is_refused_and_its_cookie_cleared() -> None:
    browser, read = signed_in()
    browser.store.floors[read.cookie_key] = PIN_ENDED
    cycle, update = browser.request()
    assert cycle.session.is_new
    assert cycle.session.user_id is None
    assert cycle.session.end_reason is None
    assert named(cycle) == [(EventName.INVALID_ID, None, "logged out")]
    assert cleared(update)


@pytest.mark.parametrize(("offset", "superseded"), [(0, False), (1, True)])
def test_a_cookie_pinned_below_the_floor_is_refused_and_left_alone(
    offset: int, superseded: bool
) -> None:
    browser, read = signed_in()
    browser.store.floors[read.cookie_key] = START_S * 1000 + offset  # the login's pin + offset
    cycle, update = browser.request()
    if not superseded:
        assert cycle.session.user_id == "ada"
        assert named(cycle) == []
        return
    assert cycle.session.is_new
    assert cycle.session.end_reason is None
    assert named(cycle) == [(EventName.INVALID_ID, None, "superseded")]
    assert update.set_cookie is None  # a newer cookie in the browser survives


# ------------------------------------------------------------------ the pin


def pins(browser: Browser) -> list[PinCookie]:
    return [op for op in browser.store.ops if isinstance(op, PinCookie)]


def test_a_login_rotation_and_logout_pin_the_floor() -> None:
    browser, read = signed_in()
    ttl = browser.config.absolute_timeout_ms + browser.config.clock_skew_tolerance_ms
    login_ms = START_S * 1000
    copy = browser.cookie
    browser.store.ops.clear()
    browser.clock.advance(1)
    cycle, _ = browser.request(lambda s: s.rotate())
    rotated = login_ms + 1000
    assert pins(browser) == [PinCookie(read.cookie_key, rotated, rotated, ttl)]
    assert [e.user for e in cycle.drain_events() if e.name is EventName.ROTATED] == ["ada"]
    assert browser.replay(copy).session.is_new  # the copy is superseded
    browser.store.ops.clear()
    browser.request(lambda s: s.rotate())  # the same millisecond: the pin still rises
    assert [p.floor for p in pins(browser)] == [rotated + 1]
    browser.store.ops.clear()
    browser.request(lambda s: s.update(a=1))  # a plain write pins nothing
    assert pins(browser) == []
    cycle, update = browser.request(lambda s: s.logout())
    assert [p.floor for p in pins(browser)] == [PIN_ENDED]
    assert named(cycle) == [(EventName.DESTROYED, "ada", None)]
    assert cleared(update)


def test_a_login_on_a_cookie_session_pins_the_floor_against_its_anonymous_copies() -> None:
    browser = Browser()
    browser.request(lambda s: s.update(cart=[1]))
    anonymous_copy = browser.cookie
    browser.clock.advance(1)
    browser.store.ops.clear()
    browser.request(lambda s: s.login("ada"))
    (pin,) = pins(browser)
    assert pin.floor == START_S * 1000 + 1000
    cycle = browser.replay(anonymous_copy)
    assert cycle.session.is_new
    assert "cart" not in cycle.session
    assert named(cycle) == [(EventName.INVALID_ID, None, "superseded")]


# ------------------------------------------------------------------ tenants


def test_a_tenants_cookie_reads_and_pins_its_state_under_that_tenant() -> None:
    """The floor and the epoch of a tenant's session are that tenant's (R64, R66): the same
    session ID and user under another tenant name other revocation state."""
    browser = Browser()

    def request(handler: Callable[[Session], object] | None = None) -> SessionCycle:
        cycle = browser.core.begin(
            [f"{NAME}={browser.cookie}"] if browser.cookie else [], tenant="acme"
        )
        browser.drive(cycle)
        if handler is not None:
            handler(cycle.session)
        cycle.finish()
        browser.drive(cycle)
        set_cookie = cycle.response().set_cookie
        if set_cookie is not None:
            browser.cookie = set_cookie.split(";", 1)[0].split("=", 1)[1] or None
        return cycle

    request(lambda s: s.login("ada"))
    assert browser.cookie is not None
    box = b64_decode(browser.cookie)
    assert box is not None
    sealer = browser.core.mode.sealer  # type: ignore[union-attr]
    opened = sealer.open(box, cookie_aad(NAME, "acme"))
    assert opened is not None
    sid = session_id(decode_payload(opened[0]))
    browser.store.ops.clear()
    assert request().session.user_id == "ada"
    (read,) = browser.store.ops
    assert read == ReadCookieState(
        KeyRing.cookie_key(sid, "acme"), KeyRing.user_key("ada", "acme"), START_S * 1000
    )
    assert read.cookie_key != KeyRing.cookie_key(sid, "")
    assert read.user_key != KeyRing.user_key("ada", "")
    browser.store.ops.clear()
    request(lambda s: s.rotate())
    (pin,) = pins(browser)
    assert pin.cookie_key == KeyRing.cookie_key(sid, "acme")


def test_a_login_after_a_revoked_cookie_records_this_requests_time() -> None:
    browser, read = signed_in()
    assert read.user_key is not None
    browser.store.epochs[read.user_key] = START_S * 1000
    browser.clock.advance(5)
    cycle, _ = browser.request(lambda s: s.login("bob"))
    assert cycle.session.user_id == "bob"
    assert cycle.session.auth_time is not None
    assert cycle.session.auth_time.timestamp() == START_S + 5
