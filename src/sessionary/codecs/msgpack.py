"""msgpack codec (optional extra ``sessionary[msgpack]``), envelope byte 0x11.

The same allowlist as the JSON codec, carried in msgpack extension types, so values round
trip exactly: tuple, set, frozenset, datetime, date, time, timedelta, UUID and Decimal.
Integers must fit in 64 bits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from sessionary.codecs.base import ENVELOPE_MSGPACK
from sessionary.codecs.limits import SMALL_MSGPACK, check_limits
from sessionary.exceptions import ConfigurationError, DecodeError, UnserializableValueError

__all__ = ["MsgpackCodec"]

try:
    import msgpack
except ImportError:  # pragma: no cover - exercised only without the extra
    msgpack = None

_ENVELOPE = bytes([ENVELOPE_MSGPACK])
_TUPLE, _SET, _FROZENSET, _DATETIME, _DATE, _TIME, _TIMEDELTA, _UUID, _DECIMAL = range(1, 10)


def _pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, default=_default, strict_types=True, use_bin_type=True)
    return packed


def _sorted_items(value: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(value)
    except TypeError:
        return list(value)


_EXT_ENCODERS: dict[type, Callable[[Any], tuple[int, bytes]]] = {
    tuple: lambda v: (_TUPLE, _pack(list(v))),
    set: lambda v: (_SET, _pack(_sorted_items(v))),
    frozenset: lambda v: (_FROZENSET, _pack(_sorted_items(v))),
    dt.datetime: lambda v: (_DATETIME, v.isoformat().encode()),
    dt.date: lambda v: (_DATE, v.isoformat().encode()),
    dt.time: lambda v: (_TIME, v.isoformat().encode()),
    dt.timedelta: lambda v: (_TIMEDELTA, _pack([v.days, v.seconds, v.microseconds])),
    uuid.UUID: lambda v: (_UUID, v.bytes),
    Decimal: lambda v: (_DECIMAL, str(v).encode()),
}
# Subclasses of the plain types (StrEnum, IntEnum, OrderedDict…) keep their base type.
_BASE_TYPES: tuple[type, ...] = (int, float, list, dict)


def _default(value: Any) -> Any:
    kind = type(value)
    encoder = _EXT_ENCODERS.get(kind)
    if encoder is not None:
        return msgpack.ExtType(*encoder(value))
    if kind is bytearray:
        return bytes(value)
    if isinstance(value, str):
        return str.__str__(value)  # str() of a (str, Enum) member would give "E.A"
    for base in _BASE_TYPES:
        if isinstance(value, base):
            return base(value)
    msg = f"values of type {kind.__qualname__} cannot be stored in a session"
    raise UnserializableValueError(msg)


def _ext_hook(code: int, data: bytes) -> Any:  # noqa: PLR0911 - one dispatch table
    if code == _TUPLE:
        return tuple(_unpack(data))
    if code == _SET:
        return set(_unpack(data))
    if code == _FROZENSET:
        return frozenset(_unpack(data))
    if code == _DATETIME:
        return dt.datetime.fromisoformat(data.decode())
    if code == _DATE:
        return dt.date.fromisoformat(data.decode())
    if code == _TIME:
        return dt.time.fromisoformat(data.decode())
    if code == _TIMEDELTA:
        days, seconds, micros = _unpack(data)
        return dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    if code == _UUID:
        return uuid.UUID(bytes=data)
    if code == _DECIMAL:
        return Decimal(data.decode())
    msg = f"unknown msgpack extension type {code}"
    raise DecodeError(msg)


def _unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)


class MsgpackCodec:
    """Compact binary codec with the same type allowlist as :class:`JsonCodec`."""

    name = "msgpack"
    __slots__ = ()

    def __init__(self) -> None:
        if msgpack is None:  # pragma: no cover - exercised only without the extra
            msg = "the msgpack codec needs the extra: pip install 'sessionary[msgpack]'"
            raise ConfigurationError(msg)

    def encode(self, value: Any) -> bytes:
        """Encode ``value``; raises ``UnserializableValueError`` outside the allowlist."""
        try:
            check_limits(value)  # what could not be read back is not written
            return _ENVELOPE + _pack(value)
        except UnserializableValueError:
            raise
        except DecodeError as exc:
            raise UnserializableValueError(str(exc).replace("decoded ", "")) from None
        except (OverflowError, ValueError, TypeError) as exc:
            msg = f"value cannot be encoded with msgpack ({exc})"
            raise UnserializableValueError(msg) from None

    def decode(self, data: bytes) -> Any:
        """Decode an 0x11 envelope; anything malformed raises ``DecodeError``."""
        if not data or data[0] != ENVELOPE_MSGPACK:
            msg = "not a msgpack envelope"
            raise DecodeError(msg)
        try:
            value = _unpack(memoryview(data)[1:])
            if len(data) > SMALL_MSGPACK:
                check_limits(value)
        except DecodeError:
            raise
        except (
            ValueError,  # ExtraData, FormatError, StackError, bad ISO strings
            TypeError,  # unhashable keys
            OverflowError,
            UnicodeDecodeError,
            InvalidOperation,
            RecursionError,
        ) as exc:
            msg = f"invalid msgpack payload ({type(exc).__name__})"
            raise DecodeError(msg) from None
        return value
