"""Property tests for the security parsers: round trips, and arbitrary input
never raising anything but the documented outcome."""

from __future__ import annotations

import base64
import random
import secrets

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionary.config import CookieOptions
from sessionary.sansio.at_rest import AtRest
from sessionary.sansio.cookies import CookieReadStatus, read_cookie, render_set_cookie
from sessionary.sansio.core import SessionCore
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import TOKEN_LENGTH, mint_token, parse_token
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.sealed import SEALED_VERSION, Sealer, aad
from sessionary.sansio.transport import read_header_token
from sessionary.stores import CookieStore
from sessionary.testing import session_config

NAME = "__Host-session"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SEALED = SessionCore(session_config(), mode=CookieStore())
RING = KeyRing([secrets.token_bytes(32)])
cookie_names = st.text(alphabet=B64 + "!#$%&'*+.^`|~", min_size=1, max_size=12)
cookie_values = st.text(alphabet=B64 + "=", max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_minted_ids_parse_and_only_canonical_43_char_strings_do(data: st.DataObject) -> None:
    token = mint_token()
    assert parse_token(token.value) == token
    assert base64.urlsafe_b64decode(token.value + "=") is not None
    candidate = data.draw(st.text(alphabet=B64, min_size=TOKEN_LENGTH, max_size=TOKEN_LENGTH))
    raw = base64.urlsafe_b64decode(candidate + "=")
    canonical = base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == candidate
    assert (parse_token(candidate) is not None) == canonical


@settings(max_examples=300, deadline=None)
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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_sealed_cookie_value_is_anonymous_or_a_session(value: str) -> None:
    cycle = SEALED.begin([f"{NAME}={value}"])
    assert cycle.next_op() is None  # the sealed mode without a revocation store: no I/O
    assert cycle.next_op() is None
    assert cycle.session.is_new  # nothing forged opens
    names = {e.name for e in cycle.drain_events()}
    assert names <= {EventName.INVALID_ID, EventName.DUPLICATE_COOKIE}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), st.binary(max_size=40), min_size=1, max_size=5))
def test_at_rest_open_never_raises_on_arbitrary_records(attributes: dict[str, bytes]) -> None:
    at_rest = AtRest(RING)
    assert at_rest.open("k", attributes) is None  # plaintext is never taken for a box
    sealed = at_rest.seal("k", attributes)
    assert at_rest.open("k", sealed) == attributes
    assert at_rest.open("other", sealed) is None


SERVER = SessionCore(session_config())


@settings(max_examples=400, deadline=None)
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


# Fuzz targets for the parsers that see attacker bytes first, with a bounded, derandomized
# budget so CI runs the same examples every time. The value decoders have theirs in
# tests/unit/test_fuzz_decoders.py.
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

SEALER = Sealer([secrets.token_bytes(32), secrets.token_bytes(32)])
BOX_AAD = aad("cookie", NAME, "session", "")
edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "drop", "insert", "append"]),
        st.integers(0, 400),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=3,
)


def edited(box: bytes, changes: list[tuple[str, int, bytes]]) -> bytes:
    for kind, where, data in changes:
        at = where % (len(box) + 1)
        if kind == "flip" and at < len(box):
            box = box[:at] + bytes([box[at] ^ (data[0] or 1)]) + box[at + 1 :]
        elif kind == "cut":
            box = box[:at]
        elif kind == "drop":
            box = box[:at] + box[at + len(data) :]
        elif kind == "insert":
            box = box[:at] + data + box[at:]
        else:
            box += data
    return box


@FUZZ
@given(st.binary(max_size=200), edits, st.binary(max_size=120), st.binary(max_size=20))
def test_sealer_open_gives_none_for_any_bytes_but_its_own_boxes(
    plaintext: bytes, changes: list[tuple[str, int, bytes]], junk: bytes, other_aad: bytes
) -> None:
    box = SEALER.seal(plaintext, BOX_AAD)
    assert SEALER.open(box, BOX_AAD) == (plaintext, 0)
    forged = edited(box, changes)
    if forged != box:
        assert SEALER.open(forged, BOX_AAD) is None
    assert SEALER.open(junk, BOX_AAD) is None
    assert SEALER.open(bytes([SEALED_VERSION]) + junk, BOX_AAD) is None
    if other_aad != BOX_AAD:
        assert SEALER.open(box, other_aad) is None


# Cookie headers made of the pieces a parser can trip on: look-alike names, separators,
# whitespace, empty and long values, several header lines.
cookie_pairs = st.builds(
    lambda name, sep, value: name + sep + value,
    st.sampled_from([NAME, " " + NAME, NAME + "\t", "__host-session", "__Host-session2", "a", ""]),
    st.sampled_from(["=", "=", " = ", "==", ""]),
    st.one_of(
        st.sampled_from(["", " ", "A" * 43, "B" * 43, '"A"', "a=b", "\x00"]),
        st.text(alphabet=B64 + '= \t",', max_size=20),
        st.builds(lambda n: "v" * n, st.integers(120, 140)),
    ),
)
cookie_lines = st.lists(
    st.one_of(
        st.builds(lambda pairs, sep: sep.join(pairs), st.lists(cookie_pairs, max_size=5),
                  st.sampled_from([";", "; ", " ;", ";;"])),
        st.text(max_size=30),
    ),
    max_size=4,
)  # fmt: skip


def split_pairs(headers: list[str]) -> list[str]:
    return [pair for header in headers for pair in header.split(";")]


@FUZZ
@given(cookie_lines, st.randoms(use_true_random=False))
def test_read_cookie_on_hostile_headers_does_not_depend_on_order_or_other_cookies(
    headers: list[str], rnd: random.Random
) -> None:
    result = read_cookie(headers, NAME, 128)
    if result.status is CookieReadStatus.PRESENT:
        assert len(result.value) <= 128
        assert any(
            p.partition("=")[0].strip(" \t") == NAME
            and p.partition("=")[2].strip(" \t") == result.value
            for p in split_pairs(headers)
        )
    # Neither first-wins nor last-wins (R22): any order of lines and of pairs reads the same.
    pairs = split_pairs(headers)
    rnd.shuffle(pairs)
    assert read_cookie(["; ".join(pairs)], NAME, 128) == result
    assert read_cookie(pairs, NAME, 128) == result
    # Other cookies do not matter.
    ours = [p for p in pairs if p.partition("=")[0].strip(" \t") == NAME and "=" in p]
    assert read_cookie(ours, NAME, 128) == result


# Header-transport values: our scheme in odd spellings, other schemes with long credentials.
header_values = st.one_of(
    st.builds(
        lambda scheme, gap, token: scheme + gap + token,
        st.sampled_from(["Session", "session", "SESSION", " Session", "Sessions", "Bearer", ""]),
        st.sampled_from([" ", "\t", "  ", ""]),
        st.one_of(st.text(alphabet=B64, max_size=140), st.just(mint_token().value)),
    ),
    st.text(max_size=60),
)
other_schemes = st.builds(
    lambda scheme, credential: f"{scheme} {credential}",
    st.sampled_from(["Bearer", "Basic", "Digest", "DPoP", "Sessionx", "Negotiate"]),
    st.one_of(
        st.text(alphabet=B64 + ".", max_size=40),
        st.builds(lambda n, part: (part * n)[:n], st.integers(100, 4000), st.text(B64, min_size=1)),
    ),
)


@FUZZ
@given(st.lists(header_values, max_size=4), st.lists(other_schemes, max_size=3), st.booleans())
def test_header_transport_ignores_other_schemes_and_caps_its_own(
    values: list[str], others: list[str], authorization: bool
) -> None:
    result = read_header_token(values, authorization=authorization, max_length=128)
    if result.status is CookieReadStatus.PRESENT:
        assert 0 < len(result.value) <= 128
        assert result.value == result.value.strip(" \t")
    assert read_header_token(values[::-1], authorization=authorization, max_length=128) == result
    if authorization:  # other schemes, however long, change nothing
        mixed = [*others, *values, *others]
        assert read_header_token(mixed, authorization=True, max_length=128) == result
