"""Tagged JSON on orjson: lossless for the types sessions really hold.

Plain JSON values (``str``, ``int`` within 64 bits, finite ``float``, ``bool``, ``None``,
``list``, ``dict`` with ``str`` keys) are written as they are, under envelope byte 0x01, and
decoded by orjson alone. Anything else in the allowlist is wrapped in a *tag object*: a
one-key ``dict`` whose key starts with NUL, and the value goes under envelope byte 0x02.

======  ============================  ======================================
tag     type                          payload
======  ============================  ======================================
``tu``  tuple                         list
``s``   set                           list (sorted when the items allow it)
``fs``  frozenset                     list (sorted when the items allow it)
``b``   bytes / bytearray             base64 string
``dt``  datetime                      ISO 8601 (wall time and offset kept;
                                      a named zone comes back as a fixed offset)
``d``   date                          ISO 8601
``tm``  time                          ISO 8601
``td``  timedelta                     [days, seconds, microseconds]
``u``   UUID                          32 hex digits
``dec`` Decimal                       string
``f``   non-finite float              "nan" / "inf" / "-inf"
``i``   int beyond 64 bits            decimal string
``m``   dict with non-str keys        list of [key, value] pairs
``o``   dict whose only key starts    the dict itself (escape, keys taken
        with NUL                      literally)
======  ============================  ======================================

Subclasses of ``str``/``int``/``float``/``list``/``dict`` (``StrEnum``, ``OrderedDict``…)
are stored as their base type. Everything else raises
:class:`~sessionary.exceptions.UnserializableValueError`: there is no ``repr`` and no pickle
fallback (SECURITY.md R49, R50).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from sessionary.codecs.base import ENVELOPE_JSON_PLAIN, ENVELOPE_JSON_TAGGED
from sessionary.codecs.limits import SMALL_JSON, check_limits
from sessionary.exceptions import DecodeError, UnserializableValueError

__all__ = ["JsonCodec"]

_PLAIN = bytes([ENVELOPE_JSON_PLAIN])
_TAGGED = bytes([ENVELOPE_JSON_TAGGED])
_MIN_INT = -(2**63)
_MAX_INT = 2**64 - 1
_MAX_DEPTH = 256


class _Tagger:
    """One encoding pass: converts a value to plain JSON types, noting whether it tagged."""

    __slots__ = ("tagged",)

    def __init__(self) -> None:
        self.tagged = False

    def tag(self, name: str, payload: Any) -> dict[str, Any]:
        self.tagged = True
        return {"\x00" + name: payload}

    def walk(self, value: Any, depth: int) -> Any:  # noqa: PLR0911, PLR0912 - one dispatch table
        kind = type(value)
        if kind is str or kind is bool or value is None:
            return value
        if kind is int:
            return value if _MIN_INT <= value <= _MAX_INT else self.tag("i", str(value))
        if kind is float:
            return value if math.isfinite(value) else self.tag("f", repr(value))
        if depth > _MAX_DEPTH:
            msg = f"value nested deeper than {_MAX_DEPTH} levels"
            raise UnserializableValueError(msg)
        if kind is list:
            return [self.walk(item, depth + 1) for item in value]
        if kind is dict:
            return self.walk_dict(value, depth)
        if kind is tuple:
            return self.tag("tu", [self.walk(item, depth + 1) for item in value])
        if kind is set or kind is frozenset:
            items = [self.walk(item, depth + 1) for item in _ordered(value)]
            return self.tag("s" if kind is set else "fs", items)
        if kind is bytes or kind is bytearray:
            return self.tag("b", base64.b64encode(value).decode("ascii"))
        if kind is dt.datetime:
            return self.tag("dt", value.isoformat())
        if kind is dt.date:
            return self.tag("d", value.isoformat())
        if kind is dt.time:
            return self.tag("tm", value.isoformat())
        if kind is dt.timedelta:
            return self.tag("td", [value.days, value.seconds, value.microseconds])
        if kind is uuid.UUID:
            return self.tag("u", value.hex)
        if kind is Decimal:
            return self.tag("dec", str(value))
        # Subclasses of the plain types are kept as their base type.
        if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
            return bool(value)
        if isinstance(value, str):
            return str.__str__(value)  # str() of a (str, Enum) member would give "E.A"
        if isinstance(value, int):
            return self.walk(int(value), depth)
        if isinstance(value, float):
            return self.walk(float(value), depth)
        if isinstance(value, dict):
            return self.walk_dict(dict(value), depth)
        if isinstance(value, list):
            return [self.walk(item, depth + 1) for item in value]
        msg = (
            f"values of type {kind.__qualname__} cannot be stored in a session; use JSON types, "
            "datetime, date, time, timedelta, UUID, Decimal, bytes, tuple, set or frozenset"
        )
        raise UnserializableValueError(msg)

    def walk_dict(self, value: dict[Any, Any], depth: int) -> Any:
        if all(type(k) is str for k in value):
            converted = {k: self.walk(v, depth + 1) for k, v in value.items()}
            if len(value) == 1 and next(iter(value)).startswith("\x00"):
                return self.tag("o", converted)
            return converted
        pairs = [[self.walk(k, depth + 1), self.walk(v, depth + 1)] for k, v in value.items()]
        return self.tag("m", pairs)


def _ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    """Sets are sorted where possible so that equal sets encode to equal bytes."""
    try:
        return sorted(items)
    except TypeError:
        return list(items)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        msg = "a list cannot be a dict key or set member"
        raise DecodeError(msg)
    return value


def _untag_map(payload: Any) -> dict[Any, Any]:
    return {_hashable(_untag(k)): _untag(v) for k, v in payload}


def _float(payload: Any) -> float:
    if payload not in ("nan", "inf", "-inf"):
        msg = "bad non-finite float tag"
        raise DecodeError(msg)
    return float(payload)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "\x00tu": lambda p: tuple(_untag(x) for x in p),
    "\x00s": lambda p: {_hashable(_untag(x)) for x in p},
    "\x00fs": lambda p: frozenset(_hashable(_untag(x)) for x in p),
    "\x00b": lambda p: base64.b64decode(p.encode("ascii"), validate=True),
    "\x00dt": dt.datetime.fromisoformat,
    "\x00d": dt.date.fromisoformat,
    "\x00tm": dt.time.fromisoformat,
    "\x00td": lambda p: dt.timedelta(days=p[0], seconds=p[1], microseconds=p[2]),
    "\x00u": lambda p: uuid.UUID(hex=p),
    "\x00dec": Decimal,
    "\x00f": _float,
    "\x00i": int,
    "\x00m": _untag_map,
    "\x00o": lambda p: {k: _untag(v) for k, v in p.items()},
}


def _untag(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return [_untag(item) for item in value]
    if kind is dict:
        if len(value) == 1:
            ((key, payload),) = value.items()
            if key.startswith("\x00"):
                decoder = _DECODERS.get(key)
                if decoder is None:
                    msg = "unknown tag in tagged JSON"
                    raise DecodeError(msg)
                return decoder(payload)
        return {k: _untag(v) for k, v in value.items()}
    return value


class JsonCodec:
    """The default codec: tagged JSON on orjson (see the module docstring for the tags)."""

    name = "json"
    __slots__ = ()

    def encode(self, value: Any) -> bytes:
        """Encode ``value``; raises ``UnserializableValueError`` outside the allowlist."""
        kind = type(value)
        if kind is str or kind is bool or value is None:
            return _PLAIN + orjson.dumps(value)
        tagger = _Tagger()
        try:
            converted = tagger.walk(value, 0)
            body = orjson.dumps(converted)
        except RecursionError:
            msg = "value is nested too deeply (or contains itself)"
            raise UnserializableValueError(msg) from None
        except orjson.JSONEncodeError as exc:  # pragma: no cover - walk emits only JSON types
            raise UnserializableValueError(str(exc)) from None
        return (_TAGGED if tagger.tagged else _PLAIN) + body

    def decode(self, data: bytes) -> Any:
        """Decode an 0x01/0x02 envelope; anything malformed raises ``DecodeError``."""
        if not data or data[0] not in (ENVELOPE_JSON_PLAIN, ENVELOPE_JSON_TAGGED):
            msg = "not a JSON envelope"
            raise DecodeError(msg)
        try:
            value = orjson.loads(memoryview(data)[1:])
            if data[0] != ENVELOPE_JSON_PLAIN:
                value = _untag(value)
            if len(data) > SMALL_JSON:
                check_limits(value)
            return value
        except DecodeError:
            raise
        except (
            ValueError,  # orjson.JSONDecodeError, bad ISO strings, bad ints, InvalidOperation
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            OverflowError,
            RecursionError,
            binascii.Error,
            InvalidOperation,
        ) as exc:
            msg = f"invalid tagged JSON payload ({type(exc).__name__})"
            raise DecodeError(msg) from None
