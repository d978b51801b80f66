"""Decoder limits (R52): depth, items, string length and integer digits; never a crash."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgpack
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


def nested(levels: int, wrap: Callable[[Any], Any] = lambda v: [v]) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = wrap(value)
    return value


WRAPPERS: dict[str, Callable[[Any], Any]] = {
    "list": lambda v: [v],
    "tuple": lambda v: (v,),
    "str-keys": lambda v: {"k": v},
    "escaped-key": lambda v: {"\x00k": v},  # JSON {"\0o": {...}}: two JSON levels
    "other-keys": lambda v: {1: v},  # JSON {"\0m": [[1, v]]}: three JSON levels, the worst
    "frozenset": lambda v: frozenset([v]),
}


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
@pytest.mark.parametrize("wrap", WRAPPERS.values(), ids=WRAPPERS.keys())
def test_the_deepest_writable_value_reads_back(codec: Any, wrap: Callable[[Any], Any]) -> None:
    deepest = nested(LIMITS.max_depth + 1, wrap)  # containers at depths 0..max_depth
    assert codec.decode(codec.encode(deepest)) == deepest
    with pytest.raises(UnserializableValueError, match="nested deeper"):
        codec.encode(nested(LIMITS.max_depth + 2, wrap))


def nested_ext_tuples(levels: int) -> bytes:
    """Stored msgpack bytes of ``levels`` nested tuples, built without sessionary's encoder."""
    item: Any = 0
    for _ in range(levels):
        item = msgpack.ExtType(1, msgpack.packb([item]))
    return b"\x11" + bytes(msgpack.packb(item))


def nested_tagged_tuples(levels: int) -> bytes:
    return b"\x02" + b'{"\\u0000tu":[' * levels + b"0" + b"]}" * levels


_DECODE_IN_A_PROCESS = """
import sys, threading
from sessionary.codecs import decode_value
from sessionary.exceptions import DecodeError

data = bytes.fromhex(sys.stdin.read())
outcome = []

def run():
    try:
        decode_value(data)
        outcome.append("value")
    except DecodeError:
        outcome.append("DecodeError")

stack = int(sys.argv[1])
if stack:
    threading.stack_size(stack)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
else:
    run()
print(*outcome)
"""


def decode_in_a_process(data: bytes, stack: int) -> str:
    """Decode in a child process (a thread with ``stack`` bytes of stack, or the main thread).

    A crash kills the child, not the test run: it shows as a failing test.
    """
    child = subprocess.run(
        [sys.executable, "-c", _DECODE_IN_A_PROCESS, str(stack)],
        input=data.hex(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, f"the decoder crashed the process: {child.returncode}"
    return child.stdout.strip()


MIB = 1 << 20


@pytest.mark.parametrize(
    ("data", "stack", "outcome"),
    [
        (nested_ext_tuples(200), 0, "DecodeError"),  # the 715-byte crash (SIGSEGV)
        (nested_ext_tuples(30), MIB, "DecodeError" if LIMITS.max_depth < 29 else "value"),
        (nested_ext_tuples(1000), MIB, "DecodeError"),
        (nested_ext_tuples(LIMITS.max_depth + 1), MIB, "value"),
        (nested_ext_tuples(LIMITS.max_depth + 1), MIB // 4, "value"),
        (nested_ext_tuples(LIMITS.max_depth + 2), MIB, "DecodeError"),
        (nested_tagged_tuples(500), MIB, "DecodeError"),
        (nested_tagged_tuples(LIMITS.max_depth + 1), MIB // 4, "value"),
    ],
    ids=[
        "msgpack-200-main",
        "msgpack-30-1MiB",
        "msgpack-1000-1MiB",
        "msgpack-deepest-1MiB",
        "msgpack-deepest-256KiB",
        "msgpack-too-deep-1MiB",
        "json-500-1MiB",
        "json-deepest-256KiB",
    ],
)
def test_nesting_is_bounded_while_decoding_without_crashing(
    data: bytes, stack: int, outcome: str
) -> None:
    assert decode_in_a_process(data, stack) == outcome


def test_the_encoder_refuses_what_crashed_the_decoder() -> None:
    """The 195-deep tuple the msgpack encoder accepted; its decoder then crashed on it."""
    for codec in (JSON, MSGPACK):
        with pytest.raises(UnserializableValueError, match="nested deeper"):
            codec.encode(nested(195, lambda v: (v,)))
    deepest = MSGPACK.encode(nested(LIMITS.max_depth + 1, lambda v: (v,)))
    assert decode_in_a_process(deepest, MIB) == "value"


def test_nested_timedelta_extensions_are_refused_without_recursion() -> None:
    item = msgpack.packb([1, 2, 3])
    for _ in range(300):
        item = msgpack.packb([msgpack.ExtType(7, item), 0, 0])
    data = b"\x11" + msgpack.packb(msgpack.ExtType(7, item))
    assert decode_in_a_process(data, MIB) == "DecodeError"


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (b"\x01" + b"[" * 300 + b"]" * 300, "nested too deeply"),
        (b"\x01" + orjson.dumps([0] * (LIMITS.max_items + 1)), "too many items"),
        (b"\x01" + orjson.dumps({str(i): 0 for i in range(LIMITS.max_items + 1)}), "too many"),
        (b"\x01" + orjson.dumps("x" * (LIMITS.max_str + 1)), "length limit"),
        (b"\x02" + orjson.dumps({"\x00i": "9" * 5000}), "too many digits"),
        (b"\x02" + orjson.dumps({"\x00i": "1" + "0" * 4300}), "too many digits"),
        (b"\x02" + orjson.dumps({"\x00dec": "1e100000000"}), "exponent"),
        (b"\x02" + orjson.dumps({"\x00dec": "1" * 4301}), "too many digits"),
        (nested_tagged_tuples(LIMITS.max_depth + 2), "nested too deeply"),
        (b"\x01" + b"[" * 2000 + b"]" * 2000, "invalid tagged JSON"),  # orjson's own limit
    ],
    ids=[
        "depth",
        "items",
        "keys",
        "string",
        "int-digits",
        "int-digits-exact",
        "decimal-exponent",
        "decimal-digits",
        "tag-depth",
        "orjson-depth",
    ],
)
def test_crafted_json_breaking_a_limit_is_a_decode_error(payload: bytes, what: str) -> None:
    with pytest.raises(DecodeError, match=what):
        decode_value(payload)


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (b"\x11" + msgpack.packb(nested(300)), "nested too deeply"),
        (nested_ext_tuples(LIMITS.max_depth + 2), "nested too deeply"),
        (b"\x11" + msgpack.packb([0] * (LIMITS.max_items + 1)), "too many items"),
        (b"\x11" + msgpack.packb(msgpack.ExtType(10, b"9" * 4301)), "too many digits"),
        (b"\x11" + msgpack.packb(msgpack.ExtType(9, b"1e100000000")), "exponent"),
        (b"\x11" + msgpack.packb(msgpack.ExtType(42, b"")), "unknown msgpack extension"),
    ],
    ids=["depth", "tuple-depth", "items", "int-digits", "decimal-exponent", "unknown-ext"],
)
def test_crafted_msgpack_breaking_a_limit_is_a_decode_error(payload: bytes, what: str) -> None:
    with pytest.raises(DecodeError, match=what):
        decode_value(payload)


BIG = 10**LIMITS.max_int_digits  # the smallest integer with one digit too many
OVER_THE_LIMITS = {
    "string": "x" * (LIMITS.max_str + 1),
    "bytes": b"x" * (LIMITS.max_str + 1),
    "dict-key": {"k" * (LIMITS.max_str + 1): 1},
    "items": [0] * (LIMITS.max_items + 1),
    "set-items": set(range(LIMITS.max_items + 1)),
    "int": BIG,
    "negative-int": -BIG,
    "decimal-exponent": Decimal("1e100000000"),
    "decimal-exponent-by-one": Decimal(f"1e{LIMITS.max_decimal_exponent + 1}"),
    "negative-exponent": Decimal(f"1e-{LIMITS.max_decimal_exponent + 1}"),
    "decimal-digits": Decimal("1" * (LIMITS.max_int_digits + 1)),
    "nested-int": {"deep": [(1, BIG)]},
}
AT_THE_LIMITS = {
    "string": "x" * LIMITS.max_str,
    "bytes": b"x" * LIMITS.max_str,
    "items": [0] * LIMITS.max_items,
    "int": BIG - 1,
    "negative-int": 1 - BIG,
    "decimal-exponent": Decimal(f"1e{LIMITS.max_decimal_exponent}"),
    "negative-exponent": Decimal(f"-1e-{LIMITS.max_decimal_exponent}"),
    "decimal-digits": Decimal("1" * LIMITS.max_int_digits),
    "decimal-specials": [Decimal("NaN"), Decimal("-Infinity"), Decimal("sNaN")],
}


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
@pytest.mark.parametrize("value", OVER_THE_LIMITS.values(), ids=OVER_THE_LIMITS.keys())
def test_values_over_a_limit_are_refused_on_encode(codec: Any, value: Any) -> None:
    """Nothing is written that the decoder would refuse (it would read back as absent)."""
    with pytest.raises(UnserializableValueError):
        codec.encode(value)


@pytest.mark.parametrize("codec", [JSON, MSGPACK], ids=["json", "msgpack"])
@pytest.mark.parametrize("value", AT_THE_LIMITS.values(), ids=AT_THE_LIMITS.keys())
def test_values_at_a_limit_are_written_and_read_back(codec: Any, value: Any) -> None:
    decoded = decode_value(codec.encode(value))
    assert repr(decoded) == repr(value)  # repr: Decimal('NaN') != Decimal('NaN')


def test_the_integer_digit_limit_is_exact() -> None:
    check_limits([BIG - 1, 1 - BIG, 2**14284, -(2**14284)])  # 4 300 digits each
    for over in (BIG, -BIG, 2**14285):  # 4 301 digits
        with pytest.raises(DecodeError, match="digits"):
            check_limits([over])
    small = DecodeLimits(max_int_digits=3)
    check_limits([999, -999, 512, 1023 - 24], small)
    with pytest.raises(DecodeError, match="digits"):
        check_limits([1000], small)


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
