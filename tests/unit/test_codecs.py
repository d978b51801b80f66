"""Codecs (R49-R52): lossless round trips, envelopes, typed errors on anything else."""

from __future__ import annotations

import collections
import datetime as dt
import enum
import functools
import math
import uuid
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionary.codecs import decode_value, get_codec
from sessionary.codecs.json import JsonCodec
from sessionary.codecs.limits import LIMITS
from sessionary.codecs.msgpack import MsgpackCodec
from sessionary.exceptions import (
    CodecError,
    ConfigurationError,
    DecodeError,
    UnserializableValueError,
)

JSON = JsonCodec()
MSGPACK = MsgpackCodec()

hashables = st.one_of(
    st.text(max_size=10),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.none(),
    st.binary(max_size=10),
    st.dates(),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
scalars = st.one_of(
    hashables,
    st.floats(allow_nan=False),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.times(),
    st.timedeltas(),
)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
        st.dictionaries(hashables, children, max_size=3),
        st.frozensets(hashables, max_size=4),
        st.sets(hashables, max_size=4),
        st.builds(lambda k, v: {"\x00" + k: v}, st.text(max_size=3), children),
    )


values = st.recursive(scalars, containers, max_leaves=12)


def same(a: Any, b: Any) -> bool:
    """Equality that also checks container types (tuple vs list) and NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, dt.datetime):
        # Named zones come back as fixed offsets: wall time and UTC offset are preserved.
        # (Plain == is unusable here: PEP 495 makes inter-zone comparisons of times in a DST
        # gap or fold unequal.)
        return (a.replace(tzinfo=None), a.utcoffset()) == (b.replace(tzinfo=None), b.utcoffset())
    return bool(a == b)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_json_round_trip_is_lossless(value: Any) -> None:
    assert same(decode_value(JSON.encode(value)), value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_msgpack_round_trip_is_lossless(value: Any) -> None:
    assert same(decode_value(MSGPACK.encode(value)), value)


@given(st.one_of(st.floats(), st.integers(), st.text()))
def test_json_scalars_including_non_finite_and_big_ints(value: Any) -> None:
    assert same(decode_value(JSON.encode(value)), value)


def test_envelope_bytes() -> None:
    assert JSON.encode({"a": [1, "x", None, 2.5]})[0] == 0x01
    assert JSON.encode("plain")[0] == 0x01
    assert JSON.encode((1, 2))[0] == 0x02
    assert JSON.encode({"d": dt.date(2024, 1, 1)})[0] == 0x02
    assert JSON.encode(2**70)[0] == 0x02
    assert MSGPACK.encode([1])[0] == 0x11


def test_plain_envelope_needs_no_tag_walk() -> None:
    # A plain payload that *looks* like a tag object is escaped, so 0x01 data is literal.
    encoded = JSON.encode({"\x00tu": [1, 2]})
    assert encoded[0] == 0x02
    assert decode_value(encoded) == {"\x00tu": [1, 2]}


def test_sets_encode_deterministically() -> None:
    a = {3, 1, 2, 10, -4}
    b = {10, -4, 2, 3, 1}
    assert JSON.encode(a) == JSON.encode(b)
    assert MSGPACK.encode(frozenset(a)) == MSGPACK.encode(frozenset(b))


def test_mixed_type_sets_still_round_trip() -> None:
    value = {1, "a", None, (1, 2)}
    assert decode_value(JSON.encode(value)) == value


class Color(str, enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


@pytest.mark.parametrize("codec", [JSON, MSGPACK])
def test_subclasses_are_stored_as_their_base_type(codec: Any) -> None:
    value = [Color.RED, Size.BIG, OrderedDict(a=1), 1.5]
    decoded = decode_value(codec.encode(value))
    assert decoded == ["red", 3, {"a": 1}, 1.5]
    assert [type(x) for x in decoded] == [str, int, dict, float]


class Custom:
    pass


def self_referencing() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


@pytest.mark.parametrize("codec", [JSON, MSGPACK])
@pytest.mark.parametrize(
    "value",
    [object(), Custom(), print, {1, 2}.__iter__(), self_referencing(), [[[[Custom()]]]]],
    ids=["object", "custom", "function", "iterator", "self-reference", "nested-custom"],
)
def test_unsupported_values_raise_type_errors(codec: Any, value: Any) -> None:
    # Caught as the builtin a caller would catch, then checked to be the library's own error.
    with pytest.raises(TypeError) as info:
        codec.encode(value)
    assert type(info.value) is UnserializableValueError
    assert isinstance(info.value, CodecError)


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
def test_integers_beyond_64_bits_round_trip_in_both_codecs(codec: Any) -> None:
    for value in (2**64, 2**64 - 1, -(2**63) - 1, 2**70, -(2**100), 10**4300 - 1):
        decoded = decode_value(codec.encode(value))
        assert type(decoded) is int
        assert decoded == value


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
def test_deep_nesting_is_refused_not_crashed(codec: Any) -> None:
    deep: Any = 1
    for _ in range(300):
        deep = [deep, (deep,)]
    with pytest.raises(UnserializableValueError, match="deeper"):
        codec.encode(deep)


# Both codecs accept exactly the same values, and read them back alike (R49, R50, R52).


class Label(str):
    pass


Point = collections.namedtuple("Point", "x y")
UNSUPPORTED = [object(), Custom(), complex(1, 2), Point(1, 2), range(3), msgpack.ExtType(1, b"")]
texts = st.one_of(st.text(max_size=8), st.sampled_from(["", "\x00", "\x00tu", "\x00m", "a\udfff"]))
digit_counts = st.integers(LIMITS.max_int_digits - 2, LIMITS.max_int_digits + 1)
near_limit_ints = st.builds(
    lambda digits, sign, offset: sign * (10**digits + offset),
    digit_counts,
    st.sampled_from([1, -1]),
    st.integers(-2, 2),
)
exponents = st.one_of(
    st.integers(-LIMITS.max_decimal_exponent - 2, -LIMITS.max_decimal_exponent + 2),
    st.integers(LIMITS.max_decimal_exponent - 2, LIMITS.max_decimal_exponent + 2),
    st.integers(-(10**9), 10**9),
)
near_limit_decimals = st.builds(
    lambda digits, exponent, sign: Decimal(f"{sign}{'7' * digits}E{exponent}"),
    st.one_of(st.integers(1, 3), digit_counts),
    exponents,
    st.sampled_from(["", "-"]),
)
any_ints = st.one_of(st.integers(), near_limit_ints)
keys = st.one_of(
    texts,
    any_ints,
    st.booleans(),
    st.none(),
    st.binary(max_size=6),
    st.dates(),
    st.uuids(),
    st.floats(),
    st.decimals(allow_nan=False),
)
hashable_values = st.recursive(
    keys, lambda k: st.one_of(st.tuples(k, k), st.frozensets(k, max_size=3)), max_leaves=4
)
leaves = st.one_of(
    keys,
    st.decimals(),
    near_limit_decimals,
    st.binary(max_size=8).map(bytearray),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.times(timezones=st.one_of(st.none(), st.timezones())),
    st.timedeltas(),
    st.sampled_from([Color.RED, Size.BIG, Label("label"), *UNSUPPORTED]),
)


def containers_of(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(texts, children, max_size=4),
        st.dictionaries(texts, children, max_size=3).map(OrderedDict),
        st.dictionaries(hashable_values, children, max_size=3),
        st.sets(hashable_values, max_size=4),
        st.frozensets(hashable_values, max_size=4),
        st.builds(lambda k, v: {"\x00" + k: v}, texts, children),
    )


def frozen_or_tuple(value: Any) -> Any:
    try:
        return frozenset([value])
    except TypeError:  # unhashable
        return (value,)


WRAPS: list[Callable[[Any], Any]] = [
    lambda v: [v],
    lambda v: (v,),
    lambda v: {"k": v},
    lambda v: {2**70: v},  # non-str keys: JSON's most expensive nesting
    lambda v: {"\x00k": v},
    frozen_or_tuple,
]
near_limit_nesting = st.builds(
    lambda inner, wraps: functools.reduce(lambda v, w: WRAPS[w](v), wraps, inner),
    st.one_of(leaves, containers_of(leaves)),
    st.lists(
        st.integers(0, len(WRAPS) - 1),
        min_size=LIMITS.max_depth - 1,
        max_size=LIMITS.max_depth + 1,
    ),
)
any_values = st.one_of(st.recursive(leaves, containers_of, max_leaves=10), near_limit_nesting)


def canon(value: Any) -> Any:
    """A comparable form: subclasses as their base type, NaN and Decimal by text, sets sorted."""
    if isinstance(value, bool) or value is None:
        return ("scalar", value)
    if isinstance(value, str):
        return ("str", str.__str__(value))
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    if isinstance(value, bytes | bytearray):
        return ("bytes", bytes(value))
    if isinstance(value, Decimal):
        return ("decimal", str(value))  # Decimal('NaN') != itself; '1.0' and '1.00' differ
    if isinstance(value, dt.datetime | dt.time):
        # A named zone comes back as a fixed offset: wall time and UTC offset are kept.
        return (type(value).__name__, value.replace(tzinfo=None, fold=0), value.utcoffset())
    if isinstance(value, dict):
        pairs = sorted(((canon(k), canon(v)) for k, v in value.items()), key=repr)
        return ("dict", pairs)
    if isinstance(value, list | tuple):
        return (type(value).__name__, [canon(item) for item in value])
    if isinstance(value, set | frozenset):
        return (type(value).__name__, sorted((canon(item) for item in value), key=repr))
    return (type(value).__name__, value)


def encoded_or_none(codec: Any, value: Any) -> bytes | None:
    try:
        return bytes(codec.encode(value))
    except UnserializableValueError:
        return None


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(any_values)
def test_both_codecs_accept_the_same_values_and_read_them_back_alike(value: Any) -> None:
    as_json, as_msgpack = encoded_or_none(JSON, value), encoded_or_none(MSGPACK, value)
    assert (as_json is None) == (as_msgpack is None)
    if as_json is not None and as_msgpack is not None:
        from_json, from_msgpack = decode_value(as_json), decode_value(as_msgpack)
        assert canon(from_json) == canon(from_msgpack) == canon(value)


# Arbitrary and hostile bytes: tests/unit/test_fuzz_decoders.py.


@pytest.mark.parametrize(
    "payload",
    [
        b'\x02{"\\u0000zz": 1}',
        b'\x02{"\\u0000f": "1.0"}',
        b'\x02{"\\u0000s": [[1]]}',
        b'\x02{"\\u0000m": [[[1], 2]]}',
        b'\x02{"\\u0000dt": "not a date"}',
        b'\x02{"\\u0000b": "!!"}',
        b'\x02{"\\u0000i": "1e5"}',
        b'\x02{"\\u0000td": [1]}',
        b'\x02{"\\u0000dec": "x"}',
        b'\x02{"\\u0000u": "nope"}',
        b"\x02[" * 3000,
        b"",
        b"\x7f{}",
    ],
)
def test_malformed_tagged_payloads(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_value(payload)


def test_envelope_mismatch_per_codec() -> None:
    with pytest.raises(DecodeError):
        JSON.decode(MSGPACK.encode(1))
    with pytest.raises(DecodeError):
        MSGPACK.decode(JSON.encode(1))


def test_codec_registry() -> None:
    assert get_codec("json") is get_codec("json")
    assert get_codec("msgpack").name == "msgpack"
    with pytest.raises(ConfigurationError):
        get_codec("yaml")


def test_lossless_examples() -> None:
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    value = {
        "when": dt.datetime(2024, 2, 29, 12, 30, 1, 5, tzinfo=tz),
        "naive": dt.datetime(2024, 2, 29, 12, 30),
        "day": dt.date(2024, 2, 29),
        "at": dt.time(23, 59, 59, 999999),
        "span": dt.timedelta(days=-3, microseconds=7),
        "id": uuid.UUID(int=7),
        "price": Decimal("19.990"),
        "raw": b"\x00\xff",
        "pair": (1, (2, 3)),
        "tags": {"a", "b"},
        "frozen": frozenset({1}),
        "by_id": {1: "one", (2, 3): "two"},
        "nan": float("nan"),
        "big": -(2**100),
    }
    decoded = decode_value(JSON.encode(value))
    assert same(decoded, value)
