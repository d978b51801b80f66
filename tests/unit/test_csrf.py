"""CSRF decisions, sans I/O (docs/security.md R67-R76)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionary.config import CookieOptions
from sessionary.exceptions import ConfigurationError
from sessionary.integrations._csrf import make_guard
from sessionary.sansio.core import SessionCore
from sessionary.sansio.csrf import CsrfFailure, CsrfGuard, CsrfOptions, mask, unmask
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import mint_token
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import Load
from sessionary.sansio.session import Session
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import session_config
from tests.unit.test_cycle import Harness, write
from tests.unit.test_sealed_cycle import Browser

K1, K2 = secrets.token_bytes(32), secrets.token_bytes(32)


class Bound:
    def __init__(self, binding: bytes) -> None:
        self.binding = binding

    def csrf_binding(self, *, create: bool = True) -> bytes | None:
        return self.binding

    def mark_private(self) -> None:
        pass


def guard(keys: list[bytes] | None = None, **options: object) -> CsrfGuard:
    return CsrfGuard(KeyRing(keys or [K1]), CsrfOptions(**options))  # type: ignore[arg-type]


def test_masking_is_a_fresh_one_time_pad_per_token() -> None:
    secret = secrets.token_bytes(32)
    first, second = mask(secret), mask(secret)
    assert first != second  # BREACH: the secret never shows twice on the wire (R74)
    assert len(first) == 86
    assert unmask(first) == unmask(second) == secret
    assert secret.hex() not in first
    for bad in ("", "x" * 85, "!" * 86, first[:-1] + "=", first + "A"):
        assert unmask(bad) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_tokens_never_raise(text: str) -> None:
    g = guard()
    assert unmask(text) is None or len(unmask(text) or b"") == 32
    assert g.check_token(Bound(b"id:x"), text) in (CsrfFailure.BAD_TOKEN, CsrfFailure.MISSING_TOKEN)


def test_tokens_are_bound_to_the_session_and_verified_with_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g = guard()
    a, b = Bound(b"id:a"), Bound(b"id:b")
    token = g.token(a)
    calls: list[int] = []
    real = hmac.compare_digest

    def spy(x: bytes, y: bytes) -> bool:
        calls.append(1)
        return real(x, y)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert g.check_token(a, token) is None
    assert g.check_token(a, g.token(a)) is None  # every masked form of the secret is valid
    assert g.check_token(b, token) is CsrfFailure.BAD_TOKEN
    assert g.check_token(a, None) is CsrfFailure.MISSING_TOKEN
    assert g.check_token(a, "") is CsrfFailure.MISSING_TOKEN
    assert calls  # R25


def test_key_rotation_keeps_tokens_valid_and_other_keys_fail() -> None:
    bound = Bound(b"id:a")
    old_token = guard([K2]).token(bound)
    assert guard([K1, K2]).check_token(bound, old_token) is None
    assert guard([K1]).check_token(bound, old_token) is CsrfFailure.BAD_TOKEN


def origin_check(g: CsrfGuard, method: str = "POST", **headers: str | None) -> object:
    return g.check_origin(
        method,
        scheme="https",
        host="app.example.com",
        origin=headers.get("origin"),
        referer=headers.get("referer"),
        fetch_site=headers.get("fetch_site"),
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),  # non-browser client: no Origin, no Referer
        ({"origin": "https://app.example.com"}, None),
        ({"origin": "https://APP.example.com:443"}, None),
        ({"fetch_site": "same-origin", "origin": "https://app.example.com"}, None),
        ({"fetch_site": "none"}, None),
        ({"fetch_site": "cross-site"}, CsrfFailure.CROSS_SITE),
        ({"fetch_site": "same-site"}, CsrfFailure.CROSS_SITE),
        ({"origin": "http://app.example.com"}, CsrfFailure.BAD_ORIGIN),  # scheme differs
        ({"origin": "https://app.example.com:8443"}, CsrfFailure.BAD_ORIGIN),  # port differs
        ({"origin": "https://app.example.com.attacker.com"}, CsrfFailure.BAD_ORIGIN),
        ({"origin": "https://user@app.example.com"}, CsrfFailure.BAD_ORIGIN),
        ({"origin": "null"}, CsrfFailure.BAD_ORIGIN),
        ({"origin": "https://evil.example"}, CsrfFailure.BAD_ORIGIN),
        ({"referer": "https://app.example.com/form?x=1"}, None),
        ({"referer": "https://evil.example/app.example.com"}, CsrfFailure.BAD_ORIGIN),
        ({"origin": "https://app.example.com", "referer": "https://evil.example/"}, None),
    ],
)
def test_origin_and_fetch_metadata(headers: dict[str, str], expected: object) -> None:
    g = guard()
    assert origin_check(g, **headers) is expected
    assert origin_check(g, "GET", **headers) is None  # safe methods are never checked
    assert origin_check(guard(check_origin=False), **headers) is None


def test_origin_options() -> None:
    assert origin_check(guard(require_origin=True)) is CsrfFailure.NO_ORIGIN
    assert origin_check(guard(allow_same_site=True), fetch_site="same-site") is None
    trusted = guard(trusted_origins=["https://admin.example.com"])
    assert origin_check(trusted, origin="https://admin.example.com") is None
    assert origin_check(trusted, origin="https://other.example.com") is CsrfFailure.BAD_ORIGIN
    for bad in ("https://x.example.com/path", "x.example.com", "https://u@x.example.com"):
        with pytest.raises(ConfigurationError, match="trusted origin"):
            CsrfOptions(trusted_origins=[bad])


@pytest.mark.parametrize("samesite", ["lax", "strict", "none"])
@pytest.mark.parametrize("csrf", [None, True, False, CsrfOptions(require_origin=False)])
def test_a_samesite_none_cookie_needs_an_origin_signal_without_a_token(
    samesite: str, csrf: CsrfOptions | bool | None
) -> None:
    """With ``SameSite=None`` the browser sends the cookie on cross-site posts; when no token
    is checked (the adapters' default, origin-only), a post with neither ``Origin`` nor
    ``Referer`` is refused unless ``Sec-Fetch-Site`` says same-origin. An explicit
    ``require_origin=False`` is honoured; ``Lax``/``Strict`` cookies keep the old rule."""
    core = SessionCore(session_config(cookie=CookieOptions(samesite=samesite)))  # type: ignore[arg-type]
    g = make_guard(core, csrf)
    if g is None:
        assert csrf is False
        return
    required = samesite == "none" and csrf is None
    assert origin_check(g) is (CsrfFailure.NO_ORIGIN if required else None)
    assert origin_check(g, fetch_site="same-origin") is None
    assert origin_check(g, origin="https://app.example.com") is None
    assert origin_check(g, referer="https://app.example.com/form") is None
    assert origin_check(g, fetch_site="none") is (CsrfFailure.NO_ORIGIN if required else None)
    assert origin_check(g, origin="https://evil.example") is CsrfFailure.BAD_ORIGIN


def test_options_keep_their_trusted_origins_when_resolved_for_a_cookie() -> None:
    options = CsrfOptions(require_token=False, trusted_origins=iter(["https://a.example.com"]))
    resolved = options.for_cookie("none")
    assert resolved.require_origin is True
    assert resolved.origins == options.origins == frozenset({"https://a.example.com"})
    assert CsrfOptions(require_origin=True).for_cookie("lax").require_origin is True
    assert CsrfOptions().for_cookie("none").require_origin is False  # the token protects


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post", "PROPFIND"])
def test_unsafe_methods(method: str) -> None:
    assert CsrfGuard.is_unsafe(method)
    assert not any(CsrfGuard.is_unsafe(m) for m in ("GET", "HEAD", "OPTIONS", "TRACE"))


def test_failure_events_carry_no_token() -> None:
    g = guard()
    token = g.token(Bound(b"id:a"))
    event = CsrfGuard.failure_event(
        CsrfFailure.BAD_TOKEN, now_ms=1, method="post", client="203.0.113.9"
    )
    assert event.name is EventName.CSRF_FAIL
    assert event.detail == {"reason": "bad-token", "method": "POST", "client": "203.0.113.9"}
    assert token not in repr(event)
    assert "K1" not in repr(g)


def test_server_side_token_rotates_on_login_and_old_tokens_fail() -> None:
    h = Harness()
    g = CsrfGuard(h.core.keyring)
    h.request(write(a=1))
    tokens: list[str] = []
    cycle, _ = h.request(lambda s: None)
    tokens.append(g.token(cycle))
    assert g.check_token(cycle, tokens[0]) is None
    h.request(lambda s: s.login("ada"))
    cycle, _ = h.request(lambda s: None)
    assert g.check_token(cycle, tokens[0]) is CsrfFailure.BAD_TOKEN  # rotated with the ID
    assert g.check_token(cycle, g.token(cycle)) is None


def test_a_pre_session_token_needs_no_record_and_survives_the_first_write() -> None:
    h = Harness(engine=MemoryEngine())
    g = CsrfGuard(h.core.keyring)
    issued: list[str] = []
    _, update = h.request(lambda s: issued.append(g.token(current())), headers=[])
    assert update.set_cookie is not None  # the pre-session ID the token is bound to …
    assert h.cookie is not None
    assert h.cookie.startswith("p.")
    assert len(h.engine) == 0  # … and no record (R7)
    cycle, _ = h.request(lambda s: None)
    assert cycle.session.is_new
    assert [op for op in h.ops if isinstance(op, Load)] == []  # never looked up
    assert g.check_token(cycle, issued[0]) is None
    # The first write creates the session under the pre-session's ID: the token still holds.
    h.request(write(cart=[1]))
    assert len(h.engine) == 1
    assert h.cookie is not None
    assert not h.cookie.startswith("p.")
    cycle, _ = h.request(lambda s: None)
    assert not cycle.session.is_new
    assert g.check_token(cycle, issued[0]) is None


def test_a_thousand_anonymous_forms_write_no_record() -> None:
    h = Harness(engine=MemoryEngine())
    g = CsrfGuard(h.core.keyring)
    for _ in range(1000):
        h.cookie = None
        h.request(lambda s: g.token(current()), headers=[])
    assert len(h.engine) == 0
    assert h.ops == []


def test_a_forged_pre_session_id_is_malformed_and_never_adopted() -> None:
    h = Harness(engine=MemoryEngine())
    forged = "p." + mint_token().value + "." + "A" * 22
    cycle, _ = h.request(write(x=1), headers=[f"__Host-session={forged}"])
    assert next(e.name for e in cycle.drain_events()) is EventName.INVALID_ID
    assert h.cookie is not None
    assert h.cookie not in forged  # a fresh ID, never the one in the forged value


def test_a_token_issued_after_login_is_bound_to_the_new_session() -> None:
    h = Harness(engine=MemoryEngine())
    g = CsrfGuard(h.core.keyring)
    h.request(write(cart=[1]))
    issued: list[str] = []

    def login_then_token(s: Session) -> None:
        s.login("ada")
        issued.append(g.token(current()))

    h.request(login_then_token)
    cycle, _ = h.request(lambda s: None)
    assert cycle.session.user_id == "ada"
    assert g.check_token(cycle, issued[0]) is None  # the SPA's first POST after login
    anonymous = Harness(engine=MemoryEngine())
    anonymous.request(lambda s: None)
    issued.clear()
    anonymous.request(login_then_token, headers=[])
    cycle, _ = anonymous.request(lambda s: None)
    assert cycle.session.user_id == "ada"
    assert g.check_token(cycle, issued[0]) is None


cycle_of: list[SessionCycle] = []


def current() -> SessionCycle:
    """The cycle of the request being handled (adapters expose theirs the same way)."""
    return cycle_of[0]


@pytest.fixture(autouse=True)
def _capture_cycles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets handlers above reach their own cycle (the adapters expose it the same way)."""
    cycle_of.clear()
    real = SessionCore.begin

    def begin(self: SessionCore, *args: Any, **kwargs: Any) -> SessionCycle:
        cycle = real(self, *args, **kwargs)
        cycle_of.insert(0, cycle)
        return cycle

    monkeypatch.setattr(SessionCore, "begin", begin)


def test_an_anonymous_request_that_asks_no_token_still_creates_nothing() -> None:
    h = Harness()
    _, update = h.request(lambda s: s.get("x"))
    assert update.set_cookie is None
    g = CsrfGuard(h.core.keyring)
    failures: list[object] = []
    _, update = h.request(lambda s: failures.append(g.check_token(current(), "x" * 86)))
    assert failures == [CsrfFailure.BAD_TOKEN]
    assert update.set_cookie is None  # a refused check mints nothing, creates nothing
    browser = Browser()
    _, update = browser.request(lambda s: failures.append(g.check_token(current(), None)))
    assert update.set_cookie is None


def test_sealed_store_token_is_signed_double_submit_and_rotates_on_login() -> None:
    browser = Browser()
    g = CsrfGuard(browser.core.keyring)
    issued: list[str] = []
    _, update = browser.request(lambda s: issued.append(g.token(current())))
    assert update.set_cookie is not None  # pre-session token: the sealed cookie is set
    cycle, _ = browser.request(lambda s: None)
    assert g.check_token(cycle, issued[0]) is None
    other = Browser()
    other.request(write(a=1))
    cycle, _ = other.request(lambda s: None)
    assert g.check_token(cycle, issued[0]) is CsrfFailure.BAD_TOKEN
    browser.request(lambda s: s.login("ada"))
    cycle, _ = browser.request(lambda s: None)
    assert g.check_token(cycle, issued[0]) is CsrfFailure.BAD_TOKEN


def test_issuing_a_token_makes_the_response_private() -> None:
    """A page that renders a token but writes nothing must still not be shared by a cache:
    ``Vary: Cookie`` and ``Cache-Control: no-store`` (server-side and sealed sessions)."""
    h = Harness()
    g = CsrfGuard(h.core.keyring)
    h.request(write(a=1))
    _, update = h.request(lambda s: None)
    assert (update.no_store, update.vary_cookie) == (False, False)  # nothing looked at
    _, update = h.request(lambda s: g.token(current()))
    assert update.set_cookie is None
    assert (update.no_store, update.vary_cookie, update.vary_name) == (True, True, "Cookie")
    _, update = h.request(lambda s: g.check_token(current(), "x" * 86))
    assert update.no_store is False  # checking issues nothing
    browser = Browser()
    browser.request(write(a=1))
    _, update = browser.request(lambda s: g.token(current()))
    assert update.set_cookie is None
    assert (update.no_store, update.vary_cookie) == (True, True)
