"""Record formats of the legacy session libraries, decoded without I/O and without pickle.

Each decoder turns the bytes a library stored into ``(data, expires_at)``: the session's
attributes with the library's own metadata removed, and its expiry in ms since the epoch
(``None`` when the record does not say; the source then asks the store's time-to-live).
A record that does not decode raises :class:`~sessionary.exceptions.MigrationError`.

Pickle is never used here: a record only pickle can read (Flask-Session 0.5 and older,
Django's cache backend) is refused (``"pickled record"``): unpickling runs the code of
whoever wrote the record.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from sessionary.exceptions import MigrationError

__all__ = [
    "PICKLE_PROTOCOL_MARK",
    "decode_flask_session",
    "decode_starlette_cookie",
    "decode_starsessions",
]

PICKLE_PROTOCOL_MARK = 0x80
"""The first byte of a pickle of protocol 2 or later (Flask-Session 0.5 and older)."""


def _mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"{what}: the record is not a mapping"
        raise MigrationError(msg)
    return dict(value)


def decode_starsessions(raw: bytes) -> tuple[dict[str, Any], int | None]:
    """A starsessions 2.x record (its ``JsonSerializer``): JSON with ``__metadata__``.

    The expiry is ``created + lifetime`` from the metadata when the lifetime is set
    (a lifetime of 0 is a browser-session cookie: the store's time-to-live decides).
    """
    try:
        data = _mapping(json.loads(raw), "starsessions")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        msg = "starsessions: the record is not JSON"
        raise MigrationError(msg) from exc
    meta = data.pop("__metadata__", None)
    expires_at = None
    if isinstance(meta, Mapping):
        created, lifetime = meta.get("created"), meta.get("lifetime")
        if isinstance(created, int | float) and isinstance(lifetime, int | float) and lifetime:
            expires_at = int((created + lifetime) * 1000)
    return data, expires_at


def decode_flask_session(raw: bytes) -> dict[str, Any]:
    """A Flask-Session 0.6+ record: its default ``msgpack`` format (msgspec's encoder), or JSON.

    Flask's ``_permanent`` flag is removed; Flask-Login's keys (``_user_id``, ``_fresh``...)
    stay, for the application's user mapping to read.

    A pickled record (Flask-Session 0.5 and older, first byte ``0x80``) raises
    :class:`~sessionary.exceptions.MigrationError` with the reason ``"pickled record"``.
    """
    try:
        import msgpack  # noqa: PLC0415 - the msgpack extra, needed by this source only
    except ImportError as exc:  # pragma: no cover - the legacy extra installs it
        msg = "the Flask-Session source needs msgpack: pip install 'sessionary[legacy]'"
        raise MigrationError(msg) from exc
    try:
        value = msgpack.unpackb(raw, raw=False, strict_map_key=True, timestamp=3)
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        if raw[:1] == bytes([PICKLE_PROTOCOL_MARK]):
            msg = "pickled record"
            raise MigrationError(msg) from exc
        value = _json_object(raw)  # SESSION_SERIALIZATION_FORMAT="json"
        if value is None:
            msg = "flask-session: the record is neither msgpack nor JSON"
            raise MigrationError(msg) from exc
    data = _mapping(value, "flask-session")
    data.pop("_permanent", None)  # Flask's own flag; sessionary's lifetime is its config
    return data


def _json_object(raw: bytes) -> dict[str, Any] | None:
    if raw[:1] != b"{":
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def decode_starlette_cookie(payload: bytes) -> dict[str, Any]:
    """The payload of Starlette's ``SessionMiddleware`` cookie (after its signature is checked).

    Base64 of a JSON object (the signature, with the old secret, is checked by the source).
    """
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        msg = "starlette cookie: the payload is not base64 JSON"
        raise MigrationError(msg) from exc
    return _mapping(data, "starlette cookie")
