"""Decoder limits (R52): depth, items, string length and integer digits; never a crash."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sessionary.codecs import decode_value
from sessionary.codecs.json import JsonCodec
from sessionary.codecs.limits import LIMITS, SMALL_JSON, SMALL_MSGPACK, DecodeLimits, check_limits
from sessionary.codecs.msgpack import MsgpackCodec
from sessionary.exceptions import DecodeError, UnserializableValueError
from sessionary.sansio.session import Session

JSON = JsonCodec()
MSGPACK = MsgpackCodec()


def nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
def test_the_deepest_writable_value_reads_back(codec: Any) -> None:
    levels = LIMITS.max_depth + 1  # containers at depths 0..max_depth
    while True:  # orjson stops a little earlier than the limit: find the deepest writable
        try:
            encoded = codec.encode(nested(levels))
        except UnserializableValueError:
            levels -= 1
            continue
        break
    assert levels > 200
    assert codec.decode(encoded) == nested(levels)
    with pytest.raises(UnserializableValueError):
        codec.encode(nested(LIMITS.max_depth + 2))


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (b"\x01" + b"[" * 300 + b"]" * 300, "nested too deeply"),
        (b"\x01" + orjson.dumps([0] * (LIMITS.max_items + 1)), "too many items"),
        (b"\x01" + orjson.dumps({str(i): 0 for i in range(LIMITS.max_items + 1)}), "too many"),
        (b"\x01" + orjson.dumps("x" * (LIMITS.max_str + 1)), "length limit"),
        (b"\x02" + orjson.dumps({"\x00i": "9" * 5000}), "invalid tagged JSON"),
        (b"\x01" + b"[" * 2000 + b"]" * 2000, "invalid tagged JSON"),  # orjson's own limit
    ],
    ids=["depth", "items", "keys", "string", "int-digits", "orjson-depth"],
)
def test_crafted_json_breaking_a_limit_is_a_decode_error(payload: bytes, what: str) -> None:
    with pytest.raises(DecodeError, match=what):
        decode_value(payload)


def test_crafted_msgpack_breaking_a_limit_is_a_decode_error() -> None:
    import msgpack  # noqa: PLC0415

    too_deep = b"\x11" + msgpack.packb(nested(300))
    many = b"\x11" + msgpack.packb([0] * (LIMITS.max_items + 1))
    for payload in (too_deep, many):
        with pytest.raises(DecodeError):
            decode_value(payload)
    with pytest.raises(UnserializableValueError, match="too many items"):
        MSGPACK.encode([0] * (LIMITS.max_items + 1))


def test_integer_digit_and_bytes_limits() -> None:
    small = DecodeLimits(max_int_digits=10, max_str=4)
    check_limits([10**9, b"abcd", "abcd", 1.5, None, True], small)
    with pytest.raises(DecodeError, match="digits"):
        check_limits({"n": 10**12}, small)
    with pytest.raises(DecodeError, match="length"):
        check_limits({b"abcde"}, small)


def test_a_limit_breaking_stored_value_refuses_the_record_not_the_request() -> None:
    raw = {"ok": JSON.encode(1), "bomb": b"\x01" + b"[" * 300 + b"]" * 300}
    with pytest.raises(DecodeError):  # the cycle treats the record as corrupt (anonymous)
        Session(JSON, raw, is_new=False)


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
def test_small_payloads_cannot_break_a_limit(codec: Any) -> None:
    """The decoders skip the walk up to SMALL_JSON / SMALL_MSGPACK bytes: check the bound.

    The deepest value that fits is the worst case (items, characters and digits each cost
    at least a byte, far below their limits); it must pass the default limits.
    """

    def deepest_payload(levels: int) -> bytes:
        if codec is JSON:  # hand-built: orjson itself refuses to encode this deep
            return b"\x01" + b"[" * levels + b"0" + b"]" * levels
        return bytes(codec.encode(nested(levels)))

    small = SMALL_JSON if codec is JSON else SMALL_MSGPACK
    levels = 1
    while len(deepest_payload(levels + 1)) <= small:
        levels += 1
    check_limits(codec.decode(deepest_payload(levels)))  # raises if the bound were wrong
    assert small < min(LIMITS.max_items, LIMITS.max_str, LIMITS.max_int_digits)
