"""Property tests for the security parsers (issue 6, item 8): round trips, and arbitrary input
never raising anything but the documented outcome."""

from __future__ import annotations

import base64
import secrets

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionary.config import CookieOptions
from sessionary.sansio.at_rest import AtRest
from sessionary.sansio.cookies import CookieReadStatus, read_cookie, render_set_cookie
from sessionary.sansio.cycle import SessionCore
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import TOKEN_LENGTH, mint_token, parse_token
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.sealed_cycle import SealedCycle
from sessionary.testing import session_config

NAME = "__Host-session"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SEALED = SessionCore(session_config(), sealed=True)
RING = KeyRing([secrets.token_bytes(32)])
cookie_names = st.text(alphabet=B64 + "!#$%&'*+.^`|~", min_size=1, max_size=12)
cookie_values = st.text(alphabet=B64 + "=", max_size=60)


@settings(max_examples=300)
@given(st.data())
def test_minted_ids_parse_and_only_canonical_43_char_strings_do(data: st.DataObject) -> None:
    token = mint_token()
    assert parse_token(token.value) == token
    assert base64.urlsafe_b64decode(token.value + "=") is not None
    candidate = data.draw(st.text(alphabet=B64, min_size=TOKEN_LENGTH, max_size=TOKEN_LENGTH))
    raw = base64.urlsafe_b64decode(candidate + "=")
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == candidate
    assert (parse_token(candidate) is not None) == canonical


@settings(max_examples=300)
@given(
    value=st.text(alphabet=B64, min_size=1, max_size=200),
    before=st.dictionaries(cookie_names, cookie_values, max_size=4),
    after=st.dictionaries(cookie_names, cookie_values, max_size=4),
    split=st.booleans(),
)
def test_the_session_cookie_is_found_among_any_others(
    value: str, before: dict[str, str], after: dict[str, str], split: bool
) -> None:
    others = {k: v for k, v in {**before, **after}.items() if k != NAME}
    header = render_set_cookie(CookieOptions(), value, 60).split(";", 1)[0]
    pairs = [f"{k}={v}" for k, v in others.items()]
    parts = [*pairs[: len(pairs) // 2], header, *pairs[len(pairs) // 2 :]]
    headers = parts if split else ["; ".join(parts)]  # HTTP/2 splits cookie lines (R23)
    result = read_cookie(headers, NAME, 4096)
    assert result.status is CookieReadStatus.PRESENT
    assert result.value == value


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_sealed_cookie_value_is_anonymous_or_a_session(value: str) -> None:
    cycle = SEALED.begin([f"{NAME}={value}"])
    assert isinstance(cycle, SealedCycle)
    assert cycle.next_op() is None
    assert cycle.session.is_new  # nothing forged opens
    names = {e.name for e in cycle.drain_events()}
    assert names <= {EventName.INVALID_ID, EventName.DUPLICATE_COOKIE}


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=10), st.binary(max_size=40), min_size=1, max_size=5))
def test_at_rest_open_never_raises_on_arbitrary_records(attributes: dict[str, bytes]) -> None:
    at_rest = AtRest(RING)
    assert at_rest.open("k", attributes) is None  # plaintext is never taken for a box
    sealed = at_rest.seal("k", attributes)
    assert at_rest.open("k", sealed) == attributes
    assert at_rest.open("other", sealed) is None


SERVER = SessionCore(session_config())


@settings(max_examples=400)
@given(st.lists(st.text(max_size=200), max_size=3))
def test_any_cookie_headers_give_no_store_call_unless_the_id_is_well_formed(
    headers: list[str],
) -> None:
    cycle = SERVER.begin(headers, client="192.0.2.1")
    op = cycle.next_op()
    if op is not None:  # only a canonical 43-character ID reaches the store (R19)
        read = read_cookie(headers, NAME, 128)
        assert parse_token(read.value) is not None
    for event in cycle.drain_events():
        assert event.name in (EventName.INVALID_ID, EventName.DUPLICATE_COOKIE)
