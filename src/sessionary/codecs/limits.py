"""Decoder limits (SECURITY.md R52): nesting depth, container size, string length, int digits.

Every decoded value is checked against :data:`LIMITS` before it reaches the application, so a
crafted record (written by someone with store access, or a bug) cannot make a request spend
unbounded CPU or memory. A breach raises :class:`~sessionary.exceptions.DecodeError`, which
the session treats like any corrupted value: the field reads as absent, never a 500.

The limits sit above what the encoder can produce under the default ``max_size`` (64 KiB of
encoded attributes holds fewer than 33 000 items), and the depth limit equals the encoder's,
so every value sessionary writes can be read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sessionary.exceptions import DecodeError

__all__ = ["LIMITS", "SMALL_JSON", "SMALL_MSGPACK", "DecodeLimits", "check_limits"]


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on a decoded value."""

    max_depth: int = 256
    """Nesting of containers below the top one (the encoder's limit too)."""
    max_items: int = 100_000
    """Items in one list, tuple, set or mapping."""
    max_str: int = 1_000_000
    """Characters in one string, bytes in one ``bytes`` value."""
    max_int_digits: int = 4_300
    """Decimal digits of an integer (CPython's own ``int``/``str`` conversion limit)."""


LIMITS = DecodeLimits()
SMALL_JSON = 2 * LIMITS.max_depth
"""JSON values at most this long cannot break a default limit, so the decoder skips the walk.

Every nesting level costs at least two bytes of JSON (``[`` and ``]``), every item, character
or digit at least one: 512 bytes stay below each default limit (depth 256, items, string
length, digits). Most session values are this small and pay nothing for the limits."""
SMALL_MSGPACK = LIMITS.max_depth
"""The same bound for msgpack, where a nesting level can cost a single byte."""
_SEQUENCES = frozenset({list, tuple, set, frozenset})


def check_limits(value: Any, limits: DecodeLimits = LIMITS) -> None:
    """Raise :class:`~sessionary.exceptions.DecodeError` if ``value`` breaks a limit."""
    kind = type(value)
    if kind is str:  # the common case: one flat value, checked without a walk
        if len(value) > limits.max_str:
            _fail("decoded string is over the length limit")
        return
    if kind is bool or kind is float or value is None or (kind is int and value.bit_length() < 64):
        return
    _check(value, 0, limits, int(limits.max_int_digits * 3.3219280948873626))  # log2(10)


def _fail(msg: str) -> None:
    raise DecodeError(msg)


def _check(item: Any, depth: int, limits: DecodeLimits, max_bits: int) -> None:
    kind = type(item)
    if kind is str or kind is bytes:
        if len(item) > limits.max_str:
            _fail("decoded string is over the length limit")
    elif kind is int:
        if item.bit_length() > max_bits:
            _fail("decoded integer has too many digits")
    elif kind is dict or kind in _SEQUENCES:
        if depth > limits.max_depth:
            _fail("decoded value is nested too deeply")
        if len(item) > limits.max_items:
            _fail("decoded container has too many items")
        depth += 1
        if kind is dict:
            for key, child in item.items():
                _check(key, depth, limits, max_bits)
                _check(child, depth, limits, max_bits)
        else:
            for child in item:
                _check(child, depth, limits, max_bits)
