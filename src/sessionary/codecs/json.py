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

Which values are accepted, and the limits, are the same for both codecs: see
:mod:`sessionary.codecs.lowering` and :mod:`sessionary.codecs.limits`. The decoder bounds
nesting as it untags, before each step down.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from sessionary.codecs.base import ENVELOPE_JSON_PLAIN, ENVELOPE_JSON_TAGGED
from sessionary.codecs.limits import (
    LIMITS,
    SMALL_JSON,
    check_limits,
    nest,
    parse_decimal,
    parse_int,
)
from sessionary.codecs.lowering import Lowering, encode_with
from sessionary.exceptions import DecodeError

__all__ = ["JsonCodec"]

_PLAIN = bytes([ENVELOPE_JSON_PLAIN])
_TAGGED = bytes([ENVELOPE_JSON_TAGGED])
_SEQUENCE_TAGS: dict[type, str] = {tuple: "tu", set: "s", frozenset: "fs"}
_LEAF_TAGS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    bytes: ("b", lambda v: base64.b64encode(v).decode("ascii")),
    dt.datetime: ("dt", lambda v: v.isoformat()),
    dt.date: ("d", lambda v: v.isoformat()),
    dt.time: ("tm", lambda v: v.isoformat()),
    dt.timedelta: ("td", lambda v: [v.days, v.seconds, v.microseconds]),
    uuid.UUID: ("u", lambda v: v.hex),
    Decimal: ("dec", str),
}


class _Tagger(Lowering):
    """One encoding pass: plain JSON types and tag objects, noting whether it tagged."""

    __slots__ = ("tagged",)

    def __init__(self) -> None:
        self.tagged = False

    def tag(self, name: str, payload: Any) -> dict[str, Any]:
        self.tagged = True
        return {"\x00" + name: payload}

    def big_int(self, value: int) -> Any:
        return self.tag("i", str(value))

    def non_finite(self, value: float) -> Any:
        return self.tag("f", repr(value))

    def sequence(self, kind: type, items: list[Any]) -> Any:
        return self.tag(_SEQUENCE_TAGS[kind], items)

    def leaf(self, value: Any) -> Any:
        name, payload = _LEAF_TAGS[type(value)]
        return self.tag(name, payload(value))

    def str_mapping(self, converted: dict[str, Any]) -> Any:
        if len(converted) == 1 and next(iter(converted)).startswith("\x00"):
            return self.tag("o", converted)  # it would read as a tag object: escape it
        return converted

    def mapping(self, value: dict[Any, Any], depth: int) -> Any:
        lower = self.lower
        return self.tag("m", [[lower(k, depth), lower(v, depth)] for k, v in value.items()])


def _items(payload: Any, depth: int) -> list[Any]:
    """The items of a tuple or set found at ``depth``, untagged one level down."""
    if type(payload) is not list:
        msg = "a tuple or set tag holds no list"
        raise DecodeError(msg)
    below = nest(depth)
    return [_untag(item, below) for item in payload]


def _untag_map(payload: Any, depth: int) -> dict[Any, Any]:
    pairs = payload if type(payload) is list else None
    if pairs is None or not all(type(pair) is list and len(pair) == 2 for pair in pairs):
        msg = "a map tag holds no list of [key, value] pairs"
        raise DecodeError(msg)
    below = nest(depth)
    return {_untag(k, below): _untag(v, below) for k, v in pairs}


def _untag_escaped(payload: Any, depth: int) -> dict[str, Any]:
    if type(payload) is not dict:
        msg = "an escape tag holds no object"
        raise DecodeError(msg)
    below = nest(depth)
    return {k: _untag(v, below) for k, v in payload.items()}


def _float(payload: Any, _depth: int) -> float:
    if payload not in ("nan", "inf", "-inf"):
        msg = "bad non-finite float tag"
        raise DecodeError(msg)
    return float(payload)


_DECODERS: dict[str, Callable[[Any, int], Any]] = {
    "\x00tu": lambda p, depth: tuple(_items(p, depth)),
    "\x00s": lambda p, depth: set(_items(p, depth)),
    "\x00fs": lambda p, depth: frozenset(_items(p, depth)),
    "\x00b": lambda p, _: base64.b64decode(p.encode("ascii"), validate=True),
    "\x00dt": lambda p, _: dt.datetime.fromisoformat(p),
    "\x00d": lambda p, _: dt.date.fromisoformat(p),
    "\x00tm": lambda p, _: dt.time.fromisoformat(p),
    "\x00td": lambda p, _: dt.timedelta(days=p[0], seconds=p[1], microseconds=p[2]),
    "\x00u": lambda p, _: uuid.UUID(hex=p),
    "\x00dec": lambda p, _: parse_decimal(p),
    "\x00f": _float,
    "\x00i": lambda p, _: parse_int(p),
    "\x00m": _untag_map,
    "\x00o": _untag_escaped,
}


def _untag(value: Any, depth: int) -> Any:
    """Replace tag objects by their values; ``depth`` is ``value``'s container depth."""
    kind = type(value)
    if kind is list:
        below = nest(depth)
        return [_untag(item, below) for item in value]
    if kind is dict:
        if len(value) == 1:
            ((key, payload),) = value.items()
            if key.startswith("\x00"):
                decoder = _DECODERS.get(key)
                if decoder is None:
                    msg = "unknown tag in tagged JSON"
                    raise DecodeError(msg)
                return decoder(payload, depth)
        below = nest(depth)
        return {k: _untag(v, below) for k, v in value.items()}
    return value


class JsonCodec:
    """The default codec: tagged JSON on orjson (see the module docstring for the tags)."""

    name = "json"
    __slots__ = ()

    def encode(self, value: Any) -> bytes:
        """Encode ``value``; raises ``UnserializableValueError`` outside the allowlist or limits."""
        kind = type(value)
        if (kind is str and len(value) <= LIMITS.max_str) or kind is bool or value is None:
            try:
                return _PLAIN + orjson.dumps(value)
            except orjson.JSONEncodeError:
                pass  # a lone surrogate: the walk below reports it
        tagger = _Tagger()
        body = encode_with(tagger, value, orjson.dumps)
        return (_TAGGED if tagger.tagged else _PLAIN) + body

    def decode(self, data: bytes) -> Any:
        """Decode an 0x01/0x02 envelope; anything malformed raises ``DecodeError``."""
        if not data or data[0] not in (ENVELOPE_JSON_PLAIN, ENVELOPE_JSON_TAGGED):
            msg = "not a JSON envelope"
            raise DecodeError(msg)
        try:
            value = orjson.loads(memoryview(data)[1:])
            if data[0] != ENVELOPE_JSON_PLAIN:
                value = _untag(value, 0)
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
            RecursionError,  # only if the caller's own stack is nearly exhausted
            binascii.Error,
            InvalidOperation,
        ) as exc:
            msg = f"invalid tagged JSON payload ({type(exc).__name__})"
            raise DecodeError(msg) from None
