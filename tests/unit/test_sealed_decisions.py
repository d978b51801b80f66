"""The sealed cookie's decisions, each at its exact boundary (R13, R38, R39, R51, R54).

Payloads are sealed here directly, with the times and sizes a test needs, and what the core
sends back is opened again, so each decision is seen from both sides: the clock-skew
refusal, the sliding refresh, what a login writes into a cookie session, and the size caps
of the values and of the cookie itself.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionary.exceptions import CookieTooLargeError, SessionTooLargeError
from sessionary.sansio.cookies import MAX_COOKIE_BYTES
from sessionary.sansio.core import SessionCore
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import SessionToken
from sessionary.sansio.modes import SealedMode
from sessionary.sansio.sealed import (
    SealedPayload,
    b64_decode,
    b64_encode,
    decode_payload,
    encode_payload,
)
from sessionary.sansio.sealed_flow import cookie_aad
from sessionary.sansio.session import Session
from sessionary.testing import FakeClock, session_config
from tests.unit.test_sealed_boundaries import sealer_of

NAME = "__Host-session"
NOW = 1_750_000_000_000
HOUR_MS = 3_600_000


class Node:
    """A core in the sealed mode at ``NOW``, sealing and opening payloads for the tests."""

    def __init__(self, **overrides: object) -> None:
        clock = FakeClock()
        clock.set((NOW + 0.5) / 1000)  # half a millisecond in: rounding cannot move `now`
        self.config = session_config(
            idle_timeout=3600, absolute_timeout=4 * 3600, clock=clock, **overrides
        )
        self.core = SessionCore(self.config, mode=SealedMode())

    def cookie(self, **fields: object) -> str:
        values: dict[str, object] = {
            "iat": NOW - HOUR_MS,
            "exp": NOW + HOUR_MS,
            "last_seen": NOW - 1000,
            "csrf": b"c" * 16,
            "attributes": {"a": b"\x021"},
        }
        values.update(fields)
        payload = SealedPayload(**values)  # type: ignore[arg-type]
        box = sealer_of(self.core).seal(encode_payload(payload), cookie_aad(NAME, ""))
        return b64_encode(box)

    def request(
        self, cookie: str | None, handler: Callable[[Session], object] | None = None
    ) -> tuple[SessionCycle, ResponseUpdate]:
        cycle = self.core.begin([f"{NAME}={cookie}"] if cookie is not None else [])
        assert cycle.next_op() is None
        if handler is not None:
            handler(cycle.session)
        cycle.finish()
        return cycle, cycle.response()

    def opened(self, update: ResponseUpdate) -> SealedPayload:
        """The payload of the cookie a response sets."""
        assert update.set_cookie is not None
        value = update.set_cookie.split(";", 1)[0].split("=", 1)[1]
        box = b64_decode(value)
        assert box is not None
        opened = sealer_of(self.core).open(box, cookie_aad(NAME, ""))
        assert opened is not None
        return decode_payload(opened[0])


def cleared(update: ResponseUpdate) -> bool:
    return update.set_cookie is not None and "Max-Age=0" in update.set_cookie


# ------------------------------------------------------------------ clock skew (R38)


@pytest.mark.parametrize("field", ["last_seen", "iat"])
@pytest.mark.parametrize(("ahead", "refused"), [(0, False), (1, True)], ids=["at", "beyond"])
def test_a_cookie_stamped_beyond_the_skew_tolerance_is_refused(
    field: str, ahead: int, refused: bool
) -> None:
    """A cookie sealed further in this node's future than the tolerance, by its last access
    or by its creation time, would outlive its deadlines here: refused, to the ms."""
    node = Node()
    tolerance = node.config.clock_skew_tolerance_ms
    stamped = NOW + tolerance + ahead
    fields = {"last_seen": stamped} if field == "last_seen" else {"iat": stamped}
    cycle, update = node.request(node.cookie(**fields))
    events = cycle.drain_events()
    if not refused:
        assert cycle.session["a"] == 1
        assert events == []
        return
    assert cycle.session.is_new
    assert [(e.name, e.detail) for e in events] == [
        (EventName.CLOCK_SKEW, {"ahead_ms": tolerance + 1, "refused": True})
    ]
    assert cleared(update)


# ------------------------------------------------------------------ sliding refresh


@pytest.mark.parametrize(("idle_for", "resealed"), [(-1, False), (0, True)], ids=["before", "at"])
def test_an_unchanged_cookie_is_resealed_once_its_touch_is_due(
    idle_for: int, resealed: bool
) -> None:
    node = Node()
    last_seen = NOW - node.config.touch_interval_ms - idle_for
    _, update = node.request(node.cookie(last_seen=last_seen), lambda s: s.get("a"))
    if not resealed:
        assert update.set_cookie is None
        return
    payload = node.opened(update)
    assert (payload.last_seen, payload.attributes) == (NOW, {"a": b"\x021"})


# ------------------------------------------------------------------ a login in a cookie session


def test_a_login_in_a_cookie_session_stamps_the_login_and_restarts_the_deadline() -> None:
    node = Node()
    cookie = node.cookie(iat=NOW - HOUR_MS, exp=NOW + HOUR_MS, auth_time=None, stamp=None)
    _, update = node.request(cookie, lambda s: s.login("ada"))
    payload = node.opened(update)
    assert payload.user == "ada"
    assert (payload.auth_time, payload.stamp) == (NOW, NOW)  # revoke_user compares the stamp
    assert payload.exp == NOW + node.config.absolute_timeout_ms  # R39
    assert payload.iat == NOW - HOUR_MS  # the same session
    assert payload.attributes == {"a": b"\x021"}


def test_a_write_in_a_signed_in_cookie_session_keeps_the_login() -> None:
    node = Node()
    cookie = node.cookie(user="ada", auth_time=NOW - 5000, stamp=NOW - 5000)
    _, update = node.request(cookie, lambda s: s.update(b=2))
    payload = node.opened(update)
    assert (payload.user, payload.auth_time, payload.stamp) == ("ada", NOW - 5000, NOW - 5000)
    assert payload.exp == NOW + HOUR_MS


# ------------------------------------------------------------------ sizes (R13, R51)


def write_pad(length: int) -> Callable[[Session], object]:
    return lambda s: s.update(pad="x" * length)


def pad_to(size: int) -> dict[str, bytes]:
    """Attributes of exactly ``size`` bytes, names and encoded values together."""
    return {"pad": b'\x02"' + b"x" * (size - 3 - 3) + b'"'}


@pytest.mark.parametrize(("extra", "admitted"), [(0, True), (1, False)], ids=["at", "over"])
def test_a_cookie_whose_values_exceed_max_size_is_unreadable(extra: int, admitted: bool) -> None:
    node = Node(max_size=100)
    cycle, update = node.request(node.cookie(attributes=pad_to(100 + extra)))
    assert (not cycle.session.is_new) is admitted
    if not admitted:
        reasons = [e.detail.get("reason") for e in cycle.drain_events()]
        assert reasons == ["unreadable"]
        assert cleared(update)


def test_a_session_of_exactly_max_size_is_sealed_one_byte_more_is_not() -> None:
    node = Node(max_size=100)
    _, update = node.request(None, write_pad(94))  # 3 + 1 + 96 bytes
    assert sum(map(len, node.opened(update).attributes.values())) == 97
    with pytest.raises(SessionTooLargeError):
        node.request(None, write_pad(95))


def test_a_cookie_of_exactly_4096_bytes_is_sent_one_byte_more_is_not() -> None:
    """R13: name and value together up to 4096 bytes; the encoder refuses beyond."""
    node = Node()
    sizes: list[int] = []  # the cookie sizes sent, value length growing a byte at a time
    for n in range(1000, 4096):
        try:
            _, update = node.request(None, write_pad(n))
        except CookieTooLargeError:
            break  # the first one refused
        assert update.set_cookie is not None
        sizes.append(len(update.set_cookie.split(";", 1)[0]) - 1)  # name and value, no "="
    # Base64 makes some sizes unreachable; 4096 is reachable (its value length is 2 mod 4).
    assert sizes[-1] == MAX_COOKIE_BYTES


# ------------------------------------------------------------------ expiry names the user


@pytest.mark.parametrize(
    ("fields", "expired"),
    [
        ({"exp": NOW}, EventName.EXPIRED_ABSOLUTE),
        ({"last_seen": NOW - HOUR_MS}, EventName.EXPIRED_IDLE),
    ],
    ids=["absolute", "idle"],
)
def test_an_expired_signed_in_cookie_reports_its_user_and_why_it_ended(
    fields: dict[str, int], expired: EventName
) -> None:
    """The expiry event names the user whose session ended (audit trail, per-user metrics)."""
    node = Node()
    cycle, update = node.request(node.cookie(user="ada", auth_time=NOW - HOUR_MS, **fields))
    assert cycle.session.is_new
    assert cycle.session.end_reason == expired.value
    assert [(e.name, e.user) for e in cycle.drain_events()] == [(expired, "ada")]
    assert cleared(update)


# ------------------------------------------------------------------ what CSRF tokens bind to


def test_a_loaded_cookies_csrf_binding_is_its_sealed_one_during_and_after_the_handler() -> None:
    """A token issued while the handler runs verifies on the next request: both bind to the
    value sealed in the cookie, not to a fresh pre-session value."""
    node = Node()
    cycle = node.core.begin([f"{NAME}={node.cookie()}"])
    assert not cycle.session.is_new
    assert cycle.csrf_binding() == b"sealed:" + b"c" * 16
    assert cycle.csrf_binding(create=False) == b"sealed:" + b"c" * 16
    cycle.session["b"] = 2
    cycle.finish()
    assert cycle.csrf_binding() == b"sealed:" + b"c" * 16
    assert node.opened(cycle.response()).csrf == b"c" * 16


def test_a_new_sessions_csrf_binding_is_the_one_its_new_cookie_carries() -> None:
    """Before the commit a visitor gets a pre-session binding (or none, without ``create``);
    the commit seals exactly that value, and after it the binding is the sealed one."""
    node = Node()
    cycle = node.core.begin([])
    assert cycle.csrf_binding(create=False) is None
    early = cycle.csrf_binding()
    assert early is not None
    cycle.finish()
    assert cycle.csrf_binding() == early
    assert b"sealed:" + node.opened(cycle.response()).csrf == early
    written = node.core.begin([])  # no token before the commit: the binding is minted there
    written.session["b"] = 2
    written.finish()
    sealed = node.opened(written.response()).csrf
    assert written.csrf_binding() == b"sealed:" + sealed
    assert written.csrf_binding(create=False) == b"sealed:" + sealed


# ------------------------------------------------------------------ a login after a refusal


@pytest.mark.parametrize(
    "fields",
    [
        None,  # no cookie
        {"exp": NOW},  # expired (absolute)
        {"last_seen": NOW - HOUR_MS},  # expired (idle)
        {"attributes": {"a": b"\xff"}},  # authentic, but a value does not decode
    ],
    ids=["no-cookie", "expired-absolute", "expired-idle", "undecodable"],
)
def test_a_login_after_a_refused_cookie_records_this_requests_time(
    fields: dict[str, object] | None,
) -> None:
    """Whatever became of the presented cookie, the session the handler gets is stamped with
    the request's time: a login in it records when it happened (``auth_time``, R39)."""
    node = Node()
    cookie = None if fields is None else node.cookie(**fields)
    cycle, update = node.request(cookie, lambda s: s.login("ada"))
    assert cycle.session.auth_time is not None
    assert cycle.session.auth_time.timestamp() * 1000 == NOW
    payload = node.opened(update)
    assert (payload.user, payload.auth_time, payload.stamp) == ("ada", NOW, NOW)


# ------------------------------------------------------------------ events name the cookie


def test_events_name_a_sealed_cookie_by_its_keyed_fingerprint() -> None:
    """A refused cookie's event and a new cookie's event each carry the fingerprint of that
    cookie (never the cookie), so a log can follow one session; an unchanged cookie's
    rewrite (no event) and a write to a cookie session keep the presented one's."""
    node = Node()

    def fingerprint(cookie: str) -> str:
        return node.core.keyring.fingerprint(SessionToken(cookie).selector)

    expired = node.cookie(exp=NOW)
    cycle, _ = node.request(expired)
    assert [(e.name, e.fingerprint) for e in cycle.drain_events()] == [
        (EventName.EXPIRED_ABSOLUTE, fingerprint(expired))
    ]
    cycle, update = node.request(None, lambda s: s.update(b=2))
    assert update.set_cookie is not None
    created = update.set_cookie.split(";", 1)[0].split("=", 1)[1]
    assert [(e.name, e.fingerprint) for e in cycle.drain_events()] == [
        (EventName.CREATED, fingerprint(created))
    ]
    live = node.cookie(user="ada", auth_time=NOW - HOUR_MS)
    cycle, _ = node.request(live, lambda s: s.logout())
    assert [(e.name, e.fingerprint) for e in cycle.drain_events()] == [
        (EventName.DESTROYED, fingerprint(live))
    ]


def test_two_differing_sealed_cookies_give_no_session_and_are_cleared() -> None:
    """Two cookies of the session's name with different values (a planted one, R21): neither
    is opened; the response clears the name and the event says why. The same value twice is
    one cookie."""
    node = Node()
    first, second = node.cookie(), node.cookie(attributes={"a": b"\x022"})
    cycle = node.core.begin([f"{NAME}={first}; {NAME}={second}"], client="198.51.100.1")
    assert cycle.session.is_new
    assert [(e.name, e.fingerprint, e.detail) for e in cycle.drain_events()] == [
        (
            EventName.DUPLICATE_COOKIE,
            None,
            {"reason": "differing values", "client": "198.51.100.1"},
        )
    ]
    cycle.finish()
    assert cleared(cycle.response())
    same = node.core.begin([f"{NAME}={first}", f"{NAME}={first}"])
    assert same.session["a"] == 1
    assert same.drain_events() == []


@pytest.mark.parametrize("fields", [{"exp": NOW}, {"last_seen": NOW - HOUR_MS}])
def test_values_written_after_an_expired_cookie_go_into_a_new_one(
    fields: dict[str, int],
) -> None:
    node = Node()
    cycle, update = node.request(node.cookie(**fields), lambda s: s.update(b=2))
    assert cycle.session.end_reason is not None
    payload = node.opened(update)
    assert payload.iat == NOW
    assert set(payload.attributes) == {"b"}
    after, _ = node.request(update.set_cookie.split(";", 1)[0].split("=", 1)[1])  # type: ignore[union-attr]
    assert after.session["b"] == 2


def test_after_a_commit_that_stored_nothing_no_binding_is_made_up() -> None:
    """An anonymous request that wrote nothing has no sealed payload: asked after its commit
    without ``create``, the binding is ``None``, with ``create`` a fresh pre-session one."""
    node = Node()
    for cookie in (None, node.cookie(exp=NOW)):
        cycle, update = node.request(cookie)
        assert update.set_cookie is None or cleared(update)
        assert cycle.csrf_binding(create=False) is None
        made = cycle.csrf_binding()
        assert made is not None
        assert made.startswith(b"sealed:")
