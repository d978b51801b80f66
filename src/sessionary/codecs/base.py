"""The codec interface and the versioned envelope every stored value is wrapped in.

Each encoded value starts with one *envelope byte* naming its format and version, so a
store can hold values written by different codecs (and decoders can be swapped or migrated)
without ambiguity. Unknown envelope bytes are a :class:`~sessionary.exceptions.DecodeError`.

=====  ========================================================================
byte   format
=====  ========================================================================
0x01   JSON (orjson) holding only plain JSON types: decoded without a tag walk
0x02   tagged JSON: values outside plain JSON are wrapped in tag objects
0x11   msgpack with extension types
=====  ========================================================================
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["ENVELOPE_JSON_PLAIN", "ENVELOPE_JSON_TAGGED", "ENVELOPE_MSGPACK", "Codec"]

ENVELOPE_JSON_PLAIN = 0x01
ENVELOPE_JSON_TAGGED = 0x02
ENVELOPE_MSGPACK = 0x11


@runtime_checkable
class Codec(Protocol):
    """Turns one session value into enveloped bytes and back.

    ``encode`` raises :class:`~sessionary.exceptions.UnserializableValueError` (a
    ``TypeError``) for values outside the allowlist or over a limit
    (:mod:`sessionary.codecs.limits`); ``decode`` raises
    :class:`~sessionary.exceptions.DecodeError` (a ``ValueError``) for any bytes it cannot
    read or that break a limit. Neither raises anything else, and both codecs accept exactly
    the same values.
    """

    name: str

    def encode(self, value: Any) -> bytes:
        """Return the enveloped encoding of ``value``."""
        ...

    def decode(self, data: bytes) -> Any:
        """Return the value encoded in ``data`` (which starts with its envelope byte)."""
        ...
