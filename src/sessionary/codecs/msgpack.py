"""msgpack codec (optional extra ``sessionary[msgpack]``), envelope byte 0x11.

The same allowlist and limits as the JSON codec (:mod:`sessionary.codecs.lowering`), carried in
msgpack extension types, so values round trip exactly:

=====  ===============  =============================================
code   type             payload
=====  ===============  =============================================
1      tuple            msgpack array of the items
2      set              msgpack array (sorted when the items allow it)
3      frozenset        msgpack array (sorted when the items allow it)
4      datetime         ISO 8601 (a named zone comes back as a fixed offset)
5      date             ISO 8601
6      time             ISO 8601
7      timedelta        msgpack array [days, seconds, microseconds]
8      UUID             16 bytes
9      Decimal          its string
10     int beyond       decimal digits (ASCII), as the JSON codec's ``i`` tag
       64 bits
=====  ===============  =============================================

A tuple, set or frozenset is an extension whose payload is itself msgpack, so decoding one
must not call the unpacker from inside the unpacker: each nested call costs the C stack about
32 KiB, and a few hundred nested tuples (a thread with a 1 MiB stack: thirty) crashed the
process. A first pass unpacks the value with a hook that stops at the first tuple or set
(most values hold none and are done); otherwise a second pass's hook only notes each such
payload (``_Nested``), and a Python walk unpacks them one level at a time, with the nesting
bounded before each step down (:func:`~sessionary.codecs.limits.nest`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from sessionary.codecs.base import ENVELOPE_MSGPACK
from sessionary.codecs.limits import SMALL_MSGPACK, check_limits, nest, parse_decimal, parse_int
from sessionary.codecs.lowering import MAX_NATIVE_INT, MIN_NATIVE_INT, Lowering, encode_with
from sessionary.exceptions import ConfigurationError, DecodeError

__all__ = ["MsgpackCodec"]

try:
    import msgpack
except ImportError:  # pragma: no cover - exercised only without the extra
    msgpack = None

_ENVELOPE = bytes([ENVELOPE_MSGPACK])
_TUPLE, _SET, _FROZENSET, _DATETIME, _DATE, _TIME, _TIMEDELTA, _UUID, _DECIMAL, _BIGINT = range(
    1, 11
)
_SEQUENCE_CODES: dict[type, int] = {tuple: _TUPLE, set: _SET, frozenset: _FROZENSET}
_BUILDERS: dict[int, Callable[[list[Any]], Any]] = {
    _TUPLE: tuple,
    _SET: set,
    _FROZENSET: frozenset,
}


def _pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, strict_types=True, use_bin_type=True)
    return packed


_LEAF_EXTS: dict[type, Callable[[Any], tuple[int, bytes]]] = {
    dt.datetime: lambda v: (_DATETIME, v.isoformat().encode()),
    dt.date: lambda v: (_DATE, v.isoformat().encode()),
    dt.time: lambda v: (_TIME, v.isoformat().encode()),
    dt.timedelta: lambda v: (_TIMEDELTA, _pack([v.days, v.seconds, v.microseconds])),
    uuid.UUID: lambda v: (_UUID, v.bytes),
    Decimal: lambda v: (_DECIMAL, str(v).encode()),
}


class _Packer(Lowering):
    """One encoding pass: msgpack's native types, extension types for the rest."""

    __slots__ = ()

    def big_int(self, value: int) -> Any:
        return msgpack.ExtType(_BIGINT, str(value).encode("ascii"))

    def non_finite(self, value: float) -> Any:
        return value  # msgpack floats hold nan and the infinities

    def sequence(self, kind: type, items: list[Any]) -> Any:
        return msgpack.ExtType(_SEQUENCE_CODES[kind], _pack(items))

    def leaf(self, value: Any) -> Any:
        if type(value) is bytes:
            return value
        return msgpack.ExtType(*_LEAF_EXTS[type(value)](value))


_PACKER = _Packer()


class _Nested:
    """A tuple, set or frozenset whose payload is not unpacked yet (see the module docstring)."""

    __slots__ = ("code", "data")

    def __init__(self, code: int, data: bytes) -> None:
        self.code = code
        self.data = data


class _HasNested(Exception):  # noqa: N818 - a signal, not an error
    """Raised by the first pass's hook: the value holds a tuple or set, take the second pass."""


def _no_ext(code: int, data: bytes) -> Any:
    msg = "unexpected msgpack extension inside a timedelta"
    raise DecodeError(msg)


def _timedelta(data: bytes) -> dt.timedelta:
    days, seconds, micros = _unpack(data, _no_ext)
    return dt.timedelta(days=days, seconds=seconds, microseconds=micros)


_LEAF_DECODERS: dict[int, Callable[[bytes], Any]] = {
    _DATETIME: lambda data: dt.datetime.fromisoformat(data.decode()),
    _DATE: lambda data: dt.date.fromisoformat(data.decode()),
    _TIME: lambda data: dt.time.fromisoformat(data.decode()),
    _TIMEDELTA: _timedelta,
    _UUID: lambda data: uuid.UUID(bytes=data),
    _DECIMAL: lambda data: parse_decimal(data.decode()),
    _BIGINT: lambda data: parse_int(data.decode("ascii")),
}


def _leaf(code: int, data: bytes) -> Any:
    decoder = _LEAF_DECODERS.get(code)
    if decoder is None:
        msg = f"unknown msgpack extension type {code}"
        raise DecodeError(msg)
    return decoder(data)


def _leaves_only(code: int, data: bytes) -> Any:
    """The first pass's hook: most values hold no tuple or set and are done in one pass."""
    if code in _BUILDERS:
        raise _HasNested
    return _leaf(code, data)


def _noting_nested(code: int, data: bytes) -> Any:
    """The second pass's hook: a tuple or set is noted for :func:`_resolve`, not unpacked."""
    if code in _BUILDERS:
        return _Nested(code, data)
    return _leaf(code, data)


def _unpack(data: bytes | memoryview, ext_hook: Callable[[int, bytes], Any]) -> Any:
    # timestamp=3: msgpack's own timestamp extension (-1), which sessionary never writes and
    # which bypasses ext_hook, reads as an aware datetime rather than a msgpack.Timestamp.
    return msgpack.unpackb(
        data, ext_hook=ext_hook, raw=False, strict_map_key=False, use_list=True, timestamp=3
    )


def _resolve(item: Any, depth: int) -> Any:
    """Unpack the tuples and sets in ``item`` (found at container ``depth``), level by level."""
    kind = type(item)
    if kind is list:
        below = nest(depth)
        return [_resolve(child, below) for child in item]
    if kind is dict:
        below = nest(depth)
        return {_resolve(k, below): _resolve(v, below) for k, v in item.items()}
    if kind is _Nested:
        below = nest(depth)  # before unpacking the payload
        items = _unpack(item.data, _noting_nested)
        if type(items) is not list:
            msg = "a msgpack tuple or set holds no array"
            raise DecodeError(msg)
        return _BUILDERS[item.code]([_resolve(child, below) for child in items])
    return item


class MsgpackCodec:
    """Compact binary codec with the same type allowlist and limits as :class:`JsonCodec`."""

    name = "msgpack"
    __slots__ = ()

    def __init__(self) -> None:
        if msgpack is None:  # pragma: no cover - exercised only without the extra
            msg = "the msgpack codec needs the extra: pip install 'sessionary[msgpack]'"
            raise ConfigurationError(msg)

    def encode(self, value: Any) -> bytes:
        """Encode ``value``; raises ``UnserializableValueError`` outside the allowlist or limits."""
        kind = type(value)
        if kind is bool or kind is float or value is None:
            return _ENVELOPE + _pack(value)
        if kind is int and MIN_NATIVE_INT <= value <= MAX_NATIVE_INT:
            return _ENVELOPE + _pack(value)
        return _ENVELOPE + encode_with(_PACKER, value, _pack)

    def decode(self, data: bytes) -> Any:
        """Decode an 0x11 envelope; anything malformed raises ``DecodeError``."""
        if not data or data[0] != ENVELOPE_MSGPACK:
            msg = "not a msgpack envelope"
            raise DecodeError(msg)
        body = memoryview(data)[1:]
        try:
            try:
                value = _unpack(body, _leaves_only)
            except _HasNested:
                value = _resolve(_unpack(body, _noting_nested), 0)
            if len(data) > SMALL_MSGPACK:
                check_limits(value)
        except DecodeError:
            raise
        except (
            ValueError,  # ExtraData, FormatError, StackError, bad ISO strings, UnicodeDecodeError
            TypeError,  # unhashable keys or set items, a timedelta of the wrong shape
            OverflowError,
            InvalidOperation,
            RecursionError,  # only if the caller's own stack is nearly exhausted
        ) as exc:
            msg = f"invalid msgpack payload ({type(exc).__name__})"
            raise DecodeError(msg) from None
        return value
