"""Fuzzing the value decoders (R52): for any stored bytes, a value or a DecodeError.

``decode_value`` and each codec's ``decode`` run on input built to reach deep into them:
msgpack with nested, unknown and malformed extensions; tagged JSON with every tag and wrong
payloads; numbers that are short to write and huge to hold; NaN, ``1e999``; unknown envelopes,
pickle bytes; truncation and garbage. Any other exception (RecursionError, OverflowError, a bare
ValueError, MemoryError) fails the test, and a crash would stop the run. What a decoder returns
is made of allowlisted types only and is within the limits. A single undecodable value marks
its record as corrupt, so this is what keeps one crafted value from ever becoming a 500.

Budgets are bounded and derandomized, so CI runs the same examples every time.
"""

from __future__ import annotations

import datetime as dt
import pickle  # to produce pickle bytes for the decoders to refuse, never to load them
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionary.codecs import decode_value
from sessionary.codecs.json import JsonCodec
from sessionary.codecs.limits import LIMITS, check_limits
from sessionary.codecs.msgpack import MsgpackCodec
from sessionary.exceptions import DecodeError

JSON = JsonCodec()
MSGPACK = MsgpackCodec()
FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ALLOWED = (
    str, int, float, bool, type(None), bytes, Decimal, uuid.UUID,
    dt.datetime, dt.date, dt.time, dt.timedelta,
)  # fmt: skip


def allowlisted(value: Any) -> bool:
    """Whether ``value`` is made only of the types the codecs write, numbers within the limits.

    (Numbers are checked here, not with ``check_limits``, so that the test does not trust the
    code under test: ``Decimal('1e100000000')`` is short to store and huge to format.)
    """
    if isinstance(value, list | tuple | set | frozenset):
        return all(allowlisted(item) for item in value)
    if isinstance(value, dict):
        return all(allowlisted(k) and allowlisted(v) for k, v in value.items())
    if type(value) is int:
        return bool(abs(value) < 10**LIMITS.max_int_digits)
    if type(value) is Decimal:
        _, digits, exponent = value.as_tuple()
        small = isinstance(exponent, str) or abs(exponent) <= LIMITS.max_decimal_exponent
        return small and len(digits) <= LIMITS.max_int_digits
    return type(value) in ALLOWED


def decodes_safely(data: bytes, *decoders: Callable[[bytes], Any]) -> bool:
    """Each decoder gives a value (allowlisted, within the limits) or a DecodeError, alike."""
    outcomes = set()
    for decoder in decoders:
        try:
            value = decoder(data)
        except DecodeError:
            outcomes.add("error")
            continue
        assert allowlisted(value), repr(value)[:200]
        check_limits(value)  # raises if a decoder let something over a limit through
        outcomes.add("value")
    assert len(outcomes) == 1, f"decoders disagree on {data[:60]!r}"
    return outcomes == {"value"}


def mutated(data: bytes, cut: int, flip: int, extra: bytes) -> list[bytes]:
    """``data`` and some damaged copies: truncated, one byte changed, garbage appended."""
    variants = [data, data[: cut % (len(data) + 1)], data + extra]
    if data:
        at = flip % len(data)
        variants.append(data[:at] + bytes([data[at] ^ (1 + flip % 255)]) + data[at + 1 :])
    return variants


damage = st.tuples(st.integers(0, 10_000), st.integers(0, 10_000), st.binary(max_size=4))

# Numbers short to write and huge to hold, and texts close to the canonical ones.
number_texts = st.sampled_from(
    [
        "1e100000000", "-1E+999999999", "1e-100000000", "9" * 4301, "9" * 4300, "-" + "9" * 4300,
        "NaN", "sNaN", "-Infinity", "nan", "inf", "1_000", " 12 ", "0x10", "", "-", "1.5",
        "NaN" + "9" * 100, "1e999999999999999999999", "٣",
    ]
)  # fmt: skip
iso_texts = st.sampled_from(
    ["2024-02-29T12:30:01+05:30", "2024-02-30", "23:59:60", "9999-12-31T23:59:59.999999-23:59",
     "0000-01-01", "x", "2024-01-01T00:00:00+24:00"]
)  # fmt: skip

# ---------------------------------------------------------------- msgpack (envelope 0x11)
EXT_CODES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 42, 127]
mp_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=10),
    st.binary(max_size=10),
    number_texts,
)


def mp_trees(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    packed_children = children.map(msgpack.packb)
    ext_payloads = st.one_of(
        packed_children,  # a nested value, as tuples and sets hold
        st.lists(children, max_size=3).map(msgpack.packb),
        st.binary(max_size=20),
        number_texts.map(str.encode),
        iso_texts.map(str.encode),
        st.just(uuid.UUID(int=7).bytes),
    )
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(), st.binary(max_size=3)),
                        children, max_size=3),
        st.builds(msgpack.ExtType, st.sampled_from(EXT_CODES), ext_payloads),
    )  # fmt: skip


mp_values = st.recursive(mp_scalars, mp_trees, max_leaves=12)


def nested_exts(code: int, levels: int, leaf: Any) -> Any:
    item = leaf
    for _ in range(levels):
        item = msgpack.ExtType(code, msgpack.packb([item] if code != 7 else [item, 0, 0]))
    return item


deep_mp_values = st.builds(
    nested_exts,
    st.sampled_from([1, 2, 3, 7]),
    st.integers(LIMITS.max_depth - 3, 4 * LIMITS.max_depth),
    st.one_of(mp_scalars, st.builds(lambda n: [[[0]]] * n, st.integers(0, 3))),
)


def packed(value: Any) -> bytes | None:
    try:
        return bytes(msgpack.packb(value))
    except (ValueError, TypeError, OverflowError):
        return None  # msgpack cannot write it (an unhashable key)


def negative_ext(code: int, payload: bytes, in_array: bool) -> bytes:
    """An extension with a reserved negative code (-1 is msgpack's timestamp), hand-packed."""
    ext = b"\xc7" + bytes([len(payload)]) + code.to_bytes(1, "big", signed=True) + payload
    return b"\x92" + ext + ext if in_array else ext


mp_bodies = st.one_of(
    st.one_of(mp_values, deep_mp_values).map(packed).filter(lambda body: body is not None),
    st.builds(
        negative_ext,
        st.sampled_from([-1, -2, -128]),
        st.one_of(
            st.binary(max_size=14), st.sampled_from([b"\xff" * 4, b"\xff" * 8, b"\xff" * 12])
        ),
        st.booleans(),
    ),
)


@FUZZ
@given(mp_bodies, damage)
def test_any_msgpack_payload_decodes_to_a_value_or_a_decode_error(
    body: bytes, how: tuple[int, int, bytes]
) -> None:
    for data in mutated(b"\x11" + body, *how):
        decodes_safely(data, decode_value, MSGPACK.decode)


# ---------------------------------------------------------------- JSON (envelopes 0x01, 0x02)
TAGS = ["tu", "s", "fs", "b", "dt", "d", "tm", "td", "u", "dec", "f", "i", "m", "o", "zz", ""]
LEAF_TAGS = ["dec", "i", "f", "dt", "d", "tm", "u", "b", "td"]
leaf_tags = st.builds(
    lambda tag, payload: {"\x00" + tag: payload},
    st.sampled_from(LEAF_TAGS),
    st.one_of(number_texts, iso_texts, st.lists(st.integers(), max_size=4)),
)
json_scalars = st.one_of(
    leaf_tags,
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    number_texts,
    iso_texts,
)


def json_trees(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=4), children, max_size=3),
        st.builds(
            lambda tag, payload: {"\x00" + tag: payload},
            st.sampled_from(TAGS),
            st.one_of(children, number_texts, iso_texts, st.lists(children, max_size=3)),
        ),
        st.builds(lambda pairs: {"\x00m": pairs}, st.lists(st.lists(children, max_size=3))),
    )


json_values = st.recursive(json_scalars, json_trees, max_leaves=12)


def nested_tags(tag: str, levels: int, leaf: Any) -> Any:
    item = leaf
    for _ in range(levels):
        item = {"\x00" + tag: [[1, item]] if tag == "m" else [item]}
    return item


deep_json_values = st.builds(
    nested_tags,
    st.sampled_from(["tu", "s", "fs", "m", "o"]),
    st.integers(LIMITS.max_depth - 3, LIMITS.max_depth + 8),  # deeper: json_texts
    json_scalars,
)
# Raw JSON texts orjson refuses or reads oddly: NaN, 1e999, huge literals, deep brackets.
json_texts = st.one_of(
    st.sampled_from(
        [
            b"NaN",
            b"[NaN]",
            b"1e999",
            b"-1e999",
            b"Infinity",
            b"9" * 5000,
            b"1" + b"0" * 400,
            b"[" * 2000 + b"]" * 2000,
            b'{"\\u0000tu":[' * 500 + b"0" + b"]}" * 500,
            b'{"\\u0000i": "' + b"9" * 5000 + b'"}',
            b"\xff\xfe",
            b"",
        ]
    ),
    st.binary(max_size=40),
)


@FUZZ
@given(st.one_of(json_values, deep_json_values), damage)
def test_any_json_payload_decodes_to_a_value_or_a_decode_error(
    value: Any, how: tuple[int, int, bytes]
) -> None:
    try:
        body = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return  # deeper than orjson writes: the raw texts below cover that
    for envelope in (b"\x01", b"\x02"):  # plain and tagged
        for data in mutated(envelope + body, *how):
            decodes_safely(data, decode_value, JSON.decode)


@FUZZ
@given(json_texts, damage)
def test_raw_json_texts_decode_to_a_value_or_a_decode_error(
    text: bytes, how: tuple[int, int, bytes]
) -> None:
    for envelope in (b"\x01", b"\x02"):
        for data in mutated(envelope + text, *how):
            decodes_safely(data, decode_value, JSON.decode)


# ---------------------------------------------------------------- any envelope, any bytes
PICKLES = [
    pickle.dumps(value, protocol=protocol)
    for value in ({"a": 1}, [1, (2, 3)], dt.datetime(2024, 1, 1), Decimal("1.5"))
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
]


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=80),
        st.sampled_from(PICKLES),
        st.builds(lambda e, b: bytes([e]) + b, st.integers(0, 255), st.binary(max_size=60)),
    ),
    damage,
)
def test_any_bytes_decode_to_a_value_or_a_decode_error(
    data: bytes, how: tuple[int, int, bytes]
) -> None:
    for variant in mutated(data, *how):
        decodes_safely(variant, decode_value)
        for codec in (JSON, MSGPACK):
            decodes_safely(variant, codec.decode)


@pytest.mark.parametrize("data", PICKLES)
def test_pickle_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_value(data)
