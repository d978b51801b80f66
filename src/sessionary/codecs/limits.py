"""Value limits (docs/security.md R52): nesting depth, container size, string length, number size.

The same :data:`LIMITS` bound both directions, for both codecs. The encoders refuse a value that
breaks one (:class:`~sessionary.exceptions.UnserializableValueError`, at assignment), so nothing
is written that a decoder would refuse; the decoders refuse stored bytes that break one
(:class:`~sessionary.exceptions.DecodeError`), so a crafted record (written by someone with store
access, or a bug) cannot make a request spend unbounded CPU, memory or stack. The session treats
a decode error like any corrupted value: the field reads as absent, never a 500.

Nesting is bounded *while* decoding, before each step down, not after the fact: the msgpack
decoder used to unpack nested extension types recursively, and a 715-byte stored value of 200
nested tuples overflowed the C stack (SIGSEGV) before any check ran. Numbers are bounded where
they are parsed, because a short text can stand for a huge number: ``Decimal('1e100000000')`` is
12 characters but formats (``f"{d:f}"``) to 100 million.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, NoReturn

from sessionary.exceptions import DecodeError

__all__ = [
    "LIMITS",
    "SMALL_JSON",
    "SMALL_MSGPACK",
    "DecodeLimits",
    "check_limits",
    "decimal_fits",
    "int_fits",
    "nest",
    "parse_decimal",
    "parse_int",
]


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on a stored value (enforced by the encoders and the decoders alike)."""

    max_depth: int = 64
    """Nesting of containers below the top one.

    Low enough that the JSON codec can write every value within it: a tag object costs up to
    three JSON levels per container (a dict with non-``str`` keys is ``{"\\0m": [[k, v]…]}``),
    and orjson writes at most 254 (``tests/unit/test_codec_limits.py`` checks the worst case);
    and low enough that decoding stays far from any thread's stack limit."""
    max_items: int = 100_000
    """Items in one list, tuple, set or mapping."""
    max_str: int = 1_000_000
    """Characters in one string, bytes in one ``bytes`` value."""
    max_int_digits: int = 4_300
    """Decimal digits of an integer (CPython's own ``int``/``str`` conversion limit), and of a
    ``Decimal``'s coefficient."""
    max_decimal_exponent: int = 4_300
    """Magnitude of a ``Decimal``'s exponent, so that formatting one stays short."""


LIMITS = DecodeLimits()
SMALL_JSON = 2 * LIMITS.max_depth
"""JSON values at most this long cannot break a structural limit, so the decoder skips the walk.

Every nesting level costs at least two bytes of JSON (``[`` and ``]``), every item or character
at least one: 128 bytes stay below each default limit (depth 64, items, string length). Numbers
are checked where they are parsed, whatever the size. Most session values are this small and
pay nothing for the walk."""
SMALL_MSGPACK = LIMITS.max_depth
"""The same bound for msgpack, where a nesting level can cost a single byte."""
_SEQUENCES = frozenset({list, tuple, set, frozenset})
_INT_TEXT = re.compile(r"-?[0-9]+")
_DECIMAL_SLACK = 32
"""Characters of a ``Decimal``'s text beyond its digits: sign, point, exponent."""


@cache
def _int_bounds(digits: int) -> tuple[int, int]:
    """``(bits, 10**digits)``: ints of at most ``bits`` bits have at most ``digits`` digits."""
    return digits * 3_321_928 // 1_000_000, 10**digits  # 3.321928… = log2(10), rounded down


def int_fits(value: int, limits: DecodeLimits = LIMITS) -> bool:
    """Whether ``value`` has at most ``limits.max_int_digits`` decimal digits (exactly)."""
    bits, bound = _int_bounds(limits.max_int_digits)
    return value.bit_length() <= bits or -bound < value < bound


def decimal_fits(value: Decimal, limits: DecodeLimits = LIMITS) -> bool:
    """Whether ``value``'s coefficient digits and exponent are within ``limits``."""
    _, digits, exponent = value.as_tuple()
    if len(digits) > limits.max_int_digits:
        return False
    return type(exponent) is not int or -limits.max_decimal_exponent <= exponent <= (
        limits.max_decimal_exponent
    )


def parse_int(text: Any, limits: DecodeLimits = LIMITS) -> int:
    """Read a stored big integer (decimal digits); the length is checked before parsing."""
    if type(text) is not str or len(text) > limits.max_int_digits + 1:
        _fail("decoded integer has too many digits")
    if not _INT_TEXT.fullmatch(text):
        _fail("decoded integer is not a decimal number")
    try:
        value = int(text)
    except ValueError:  # the interpreter's own digit limit may be lower than ours
        _fail("decoded integer has too many digits")
    if not int_fits(value, limits):
        _fail("decoded integer has too many digits")
    return value


def parse_decimal(text: Any, limits: DecodeLimits = LIMITS) -> Decimal:
    """Read a stored ``Decimal``; the length is checked before parsing, the exponent after."""
    if type(text) is not str or len(text) > limits.max_int_digits + _DECIMAL_SLACK:
        _fail("decoded Decimal has too many digits")
    try:
        value = Decimal(text)
    except InvalidOperation:
        _fail("decoded Decimal is not a number")
    if not decimal_fits(value, limits):
        _fail("decoded Decimal has too many digits or too large an exponent")
    return value


def nest(depth: int, limits: DecodeLimits = LIMITS) -> int:
    """Step into a container found at ``depth`` while decoding: return its items' depth.

    Raises :class:`~sessionary.exceptions.DecodeError` *before* the decoder goes any deeper.
    """
    if depth > limits.max_depth:
        _fail("decoded value is nested too deeply")
    return depth + 1


def check_limits(value: Any, limits: DecodeLimits = LIMITS) -> None:
    """Raise :class:`~sessionary.exceptions.DecodeError` if ``value`` breaks a limit.

    ``value`` is a decoded value (exact built-in types); the walk stops at the first container
    nested deeper than ``limits.max_depth``, before looking inside it.
    """
    kind = type(value)
    if kind is str:  # the common case: one flat value, checked without a walk
        if len(value) > limits.max_str:
            _fail("decoded string is over the length limit")
        return
    safe_bits = _int_bounds(limits.max_int_digits)[0]
    if kind is bool or kind is float or value is None:
        return
    if kind is int and value.bit_length() <= safe_bits:
        return
    _check(value, 0, limits, safe_bits)


def _fail(msg: str) -> NoReturn:
    raise DecodeError(msg)


def _check(item: Any, depth: int, limits: DecodeLimits, safe_bits: int) -> None:  # noqa: PLR0912
    kind = type(item)
    if kind is str or kind is bytes:
        if len(item) > limits.max_str:
            _fail("decoded string is over the length limit")
    elif kind is int:
        if item.bit_length() > safe_bits and not int_fits(item, limits):
            _fail("decoded integer has too many digits")
    elif kind is Decimal:
        if not decimal_fits(item, limits):
            _fail("decoded Decimal has too many digits or too large an exponent")
    elif kind is dict or kind in _SEQUENCES:
        if depth > limits.max_depth:
            _fail("decoded value is nested too deeply")
        depth += 1
        if len(item) > limits.max_items:
            _fail("decoded container has too many items")
        if kind is dict:
            for key, child in item.items():
                _check(key, depth, limits, safe_bits)
                _check(child, depth, limits, safe_bits)
        else:
            for child in item:
                _check(child, depth, limits, safe_bits)
