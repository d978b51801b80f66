"""The client-side (sealed cookie) cycle, sans I/O: docs/security.md R53-R58 and R13."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sessionary.exceptions import ConfigurationError, CookieTooLargeError, SessionTooLargeError
from sessionary.sansio.core import SessionCore
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.events import EventName
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.sealed import (
    SealedPayload,
    Sealer,
    b64_decode,
    b64_encode,
    encode_payload,
)
from sessionary.sansio.sealed_flow import cookie_aad
from sessionary.sansio.session import Session
from sessionary.stores import CookieStore
from sessionary.testing import FakeClock, session_config

K1, K2 = secrets.token_bytes(32), secrets.token_bytes(32)
NAME = "__Host-session"
Handler = Callable[[Session], object]


class Browser:
    """A client holding one sealed cookie, talking to a core in client-side mode."""

    def __init__(self, keys: list[bytes] | None = None, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock(1_750_000_000)
        self.cookie: str | None = None
        self.configure(keys or [K1])

    def configure(self, keys: list[bytes], **overrides: object) -> None:
        self.config = session_config(secret_keys=keys, clock=self.clock, **overrides)
        self.core = SessionCore(self.config, mode=CookieStore())

    def request(
        self, handler: Handler | None = None, cookie: str | None = None
    ) -> tuple[SessionCycle, ResponseUpdate]:
        value = cookie if cookie is not None else self.cookie
        cycle = self.core.begin([f"{NAME}={value}"] if value is not None else [])
        assert cycle.next_op() is None  # the client-side cycle never asks for I/O
        if handler is not None:
            handler(cycle.session)
        cycle.finish()
        assert cycle.next_op() is None
        update = cycle.response()
        if update.set_cookie is not None:
            self.cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1] or None
        return cycle, update


def write(**values: object) -> Handler:
    def handler(session: Session) -> None:
        session.update(values)

    return handler


def read_all(session: Session) -> dict[str, object]:
    return dict(session)


def test_anonymous_requests_set_no_cookie() -> None:
    browser = Browser()
    _, update = browser.request(read_all)
    assert update.set_cookie is None
    assert browser.cookie is None


def test_write_then_read_back_from_the_cookie_alone() -> None:
    browser = Browser()
    cycle, update = browser.request(write(cart=[1, 2], name="ada"))
    assert update.set_cookie is not None
    assert update.no_store
    assert update.vary_cookie
    assert "HttpOnly" in update.set_cookie
    assert "Secure" in update.set_cookie
    assert [e.name for e in cycle.drain_events()] == [EventName.CREATED]
    assert browser.cookie is not None
    assert "ada" not in browser.cookie  # encrypted, not just signed
    seen: dict[str, object] = {}
    _, update = browser.request(seen.update)
    assert seen == {"cart": [1, 2], "name": "ada"}
    assert update.set_cookie is None  # unchanged and no touch due: no Set-Cookie (R31)


def test_max_age_never_exceeds_the_sealed_deadline() -> None:
    browser = Browser()
    browser.request(write(a=1))
    browser.clock.advance(1200)  # within the idle timeout
    _, update = browser.request(write(a=2))
    assert update.set_cookie is not None
    max_age = int(update.set_cookie.split("Max-Age=")[1].split(";")[0])
    assert max_age == browser.config.absolute_timeout_ms // 1000 - 1200


def unreadable_outcome(browser: Browser, value: str) -> tuple[object, ...]:
    cycle, update = browser.request(read_all, cookie=value)
    events = [(e.name, e.detail) for e in cycle.drain_events()]
    return (dict(cycle.session), cycle.session.is_new, update.set_cookie, events)


def test_tampering_truncation_garbage_wrong_key_and_version_give_one_outcome() -> None:
    browser = Browser()
    browser.request(write(secret="x", n=1))
    good = browser.cookie
    assert good is not None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    variants = []
    for i, char in enumerate(good):
        other = alphabet[(alphabet.index(char) + 1) % 64]
        variants.append(good[:i] + other + good[i + 1 :])
    variants += [good[:-1], good[:10], good + "A", good + "AAAA", good * 2, "", "%%%", "A" * 4000]
    unknown_version = b64_encode(bytes([0x03]) + Sealer([K1]).seal(b"x", b"")[1:])
    variants.append(unknown_version)
    other_key = Browser([K2])
    other_key.request(write(secret="x", n=1))
    assert other_key.cookie is not None
    variants.append(other_key.cookie)
    # A payload sealed under the right key but for another cookie name (AAD): refused too.
    foreign = SealedPayload(0, 2**62, 2**62, b"c" * 16, {}, "root", None)
    variants.append(b64_encode(Sealer([K1]).seal(encode_payload(foreign), cookie_aad("x", ""))))
    reference = unreadable_outcome(browser, variants[0])
    assert reference[0] == {}
    assert reference[1] is True
    assert "Max-Age=0" in str(reference[2])
    assert reference[3] == [(EventName.INVALID_ID, {"reason": "unreadable"})]
    for value in variants:
        if value in ("", "%%%"):
            continue  # an empty/odd value reads as present but unreadable as well
        assert unreadable_outcome(browser, value) == reference, value
    assert unreadable_outcome(browser, "%%%") == reference


def test_oversize_cookie_is_rejected_before_any_crypto() -> None:
    browser = Browser()
    cycle, update = browser.request(read_all, cookie="A" * 5000)
    assert cycle.session.is_new
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie


def test_key_rotation_reseals_under_the_newest_key() -> None:
    browser = Browser([K2])
    browser.request(write(a=1))
    old = browser.cookie
    browser.configure([K1, K2])  # K1 is new; K2 still opens
    seen: dict[str, object] = {}
    _, update = browser.request(seen.update)
    assert seen == {"a": 1}
    assert update.set_cookie is not None  # re-sealed on read under K1
    assert browser.cookie != old
    browser.configure([K1])  # K2 retired: the re-sealed cookie still opens
    _, _ = browser.request(lambda s: seen.update(s, b=2))
    seen.clear()
    browser.request(seen.update)
    assert seen == {"a": 1}
    assert unreadable_outcome(browser, str(old))[1] is True


def test_a_cookie_sealed_in_the_legacy_box_version_opens_and_is_resealed() -> None:
    """Cookies sealed before the version-2 box keep working and move to it on first read."""
    browser = Browser()
    now = int(browser.clock() * 1000)
    payload = SealedPayload(now, now + 3_600_000, now, b"c" * 16, {"a": b'\x01"x"'}, None)
    key = KeyRing([K1]).subkeys("cookie-seal")[0]
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, encode_payload(payload), cookie_aad(NAME, ""))
    legacy = b64_encode(bytes([0x01]) + nonce + sealed)
    seen: dict[str, object] = {}
    _, update = browser.request(seen.update, cookie=legacy)
    assert seen == {"a": "x"}
    assert update.set_cookie is not None  # re-sealed although nothing changed
    assert browser.cookie is not None
    assert b64_decode(browser.cookie)[0] == 0x02  # type: ignore[index]
    _, update = browser.request(seen.update)
    assert update.set_cookie is None  # current now: nothing to re-seal


def test_idle_and_absolute_expiry_come_from_the_sealed_payload() -> None:
    browser = Browser()
    browser.request(write(a=1))
    idle_s = browser.config.idle_timeout_ms // 1000
    browser.clock.advance(idle_s + 1)
    cycle, update = browser.request(read_all)
    assert cycle.session.is_new
    assert [e.name for e in cycle.drain_events()] == [EventName.EXPIRED_IDLE]
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    browser = Browser()
    browser.request(write(a=1))
    for _ in range(13 * 60):  # active every minute, still ends at the absolute deadline
        browser.clock.advance(60)
        cycle, _ = browser.request(read_all)
        if cycle.session.is_new:
            break
    assert [e.name for e in cycle.drain_events()] == [EventName.EXPIRED_ABSOLUTE]
    elapsed_ms = int(browser.clock() * 1000) - 1_750_000_000_000
    assert elapsed_ms >= browser.config.absolute_timeout_ms


def test_too_large_cookie_raises_and_keeps_the_previous_cookie() -> None:
    browser = Browser()
    browser.request(write(a=1))
    before = browser.cookie
    with pytest.raises(CookieTooLargeError, match="4096"):
        browser.request(write(blob="x" * 4000))
    assert browser.cookie == before
    seen: dict[str, object] = {}
    browser.request(seen.update)
    assert seen == {"a": 1}
    assert issubclass(CookieTooLargeError, SessionTooLargeError)


def test_max_size_applies_to_the_cookie_store_too() -> None:
    browser = Browser()
    browser.configure([K1], max_size=100)
    with pytest.raises(SessionTooLargeError):
        browser.request(write(blob="x" * 200))
    assert browser.cookie is None


def test_login_rotates_the_csrf_binding_and_logout_clears_the_cookie() -> None:
    browser = Browser()
    cycle, _ = browser.request(write(a=1))
    first = cycle.csrf_binding()
    assert first is not None
    cycle, update = browser.request(lambda s: s.login("ada"))
    assert [e.name for e in cycle.drain_events()] == [EventName.ROTATED]
    assert cycle.csrf_binding() not in (None, first)
    copied = browser.cookie
    users: list[object] = []
    browser.request(lambda s: users.append(s.user_id))
    assert users == ["ada"]
    cycle, update = browser.request(lambda s: s.logout())
    assert [e.name for e in cycle.drain_events()] == [EventName.DESTROYED]
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    assert browser.cookie is None
    # Documented limitation (R55): a copy taken before logout still opens until it expires.
    browser.request(lambda s: users.append(s.user_id), cookie=copied)
    assert users == ["ada", "ada"]


def test_write_after_logout_starts_a_fresh_sealed_session() -> None:
    browser = Browser()
    browser.request(lambda s: s.login("ada"))

    def logout_then_flash(session: Session) -> None:
        session.logout()
        session["flash"] = "bye"

    cycle, _update = browser.request(logout_then_flash)
    assert [e.name for e in cycle.drain_events()] == [EventName.DESTROYED, EventName.CREATED]
    seen: dict[str, object] = {}

    def look(session: Session) -> None:
        seen.update(session, user=session.user_id)

    browser.request(look)
    assert seen == {"flash": "bye", "user": None}


def test_the_cookie_store_needs_the_cookie_transport() -> None:
    with pytest.raises(ConfigurationError, match="transport"):
        SessionCore(session_config(transport="header"), mode=CookieStore())
    cookie_mode = SessionCore(session_config(transport="cookie"), mode=CookieStore())
    assert cookie_mode.begin([]).next_op() is None  # the sealed mode without revocation: no I/O


def test_an_expired_sealed_cookie_says_why_it_ended() -> None:
    clock = FakeClock(1_750_000_000)
    config = session_config(clock=clock, idle_timeout=600, absolute_timeout=3600)
    core = SessionCore(config, mode=CookieStore())
    cycle = core.begin([])
    cycle.session["a"] = 1
    cycle.finish()
    cookie = cycle.response().set_cookie
    assert cookie is not None
    clock.advance(601)
    idle = core.begin([cookie.split(";", 1)[0]])
    assert idle.session.end_reason == "expired_idle"
    clock.set(1_750_000_000 + 3600)
    absolute = core.begin([cookie.split(";", 1)[0]])
    assert absolute.session.end_reason == "expired_absolute"
