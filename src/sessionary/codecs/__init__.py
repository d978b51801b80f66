"""Value codecs: tagged JSON (default, orjson) and msgpack, inside a versioned envelope.

:func:`get_codec` returns the codec that *writes* new values; :func:`decode_value` reads
any envelope, so a deployment can switch codecs without losing existing sessions.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sessionary.codecs.base import (
    ENVELOPE_JSON_PLAIN,
    ENVELOPE_JSON_TAGGED,
    ENVELOPE_MSGPACK,
    Codec,
)
from sessionary.codecs.json import JsonCodec
from sessionary.exceptions import ConfigurationError, DecodeError

__all__ = ["Codec", "JsonCodec", "decode_value", "get_codec"]

_JSON = JsonCodec()


@cache
def _msgpack() -> Codec:
    from sessionary.codecs.msgpack import MsgpackCodec  # noqa: PLC0415 - optional extra

    return MsgpackCodec()


def get_codec(name: str) -> Codec:
    """Return the codec called ``name`` (``"json"`` or ``"msgpack"``)."""
    if name == "json":
        return _JSON
    if name == "msgpack":
        return _msgpack()
    msg = f"unknown codec {name!r}"
    raise ConfigurationError(msg)


def decode_value(data: bytes) -> Any:
    """Decode one enveloped value, whichever codec wrote it."""
    if data:
        kind = data[0]
        if kind in (ENVELOPE_JSON_PLAIN, ENVELOPE_JSON_TAGGED):
            return _JSON.decode(data)
        if kind == ENVELOPE_MSGPACK:
            try:
                codec = _msgpack()
            except ConfigurationError:
                msg = "value was written by the msgpack codec, which is not installed"
                raise DecodeError(msg) from None
            return codec.decode(data)
    msg = "unknown value envelope"
    raise DecodeError(msg)
