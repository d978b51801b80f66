"""Sealed boxes: AES-256-GCM with a version byte and a key ring (docs/security.md R53-R58).

A *box* is ``version (1 byte) ‖ nonce ‖ ciphertext ‖ tag (16 bytes)``. The version byte is
checked against an allowlist before anything else; the AEAD's additional authenticated data
(AAD) binds each box to where it may be used (cookie name, purpose, tenant; or storage key
and field name for values encrypted at rest), so a box is never accepted anywhere else.
Nothing is compressed before encryption (R57).

Versions (:data:`OPENABLE_VERSIONS`):

* ``0x02`` (:data:`SEALED_VERSION`, what :meth:`Sealer.seal` makes): a 24-byte random nonce.
  Its first 12 bytes pick a one-box subkey, ``HMAC-SHA256(key, "sessionary/box/v2" ‖
  nonce[:12])``; AES-256-GCM under that subkey takes the last 12 bytes as its nonce, and the
  version byte is part of the AAD. Two boxes reuse a (subkey, GCM nonce) pair only if 192
  random bits collide: with ``q`` boxes sealed under one secret the chance is at most
  ``q² / 2¹⁹³`` — ``2⁻⁶⁵`` after ``2⁶⁴`` boxes — and each subkey seals about one box, so
  GCM's per-key limits never come near. No rotation is needed for nonce safety, however
  many writes and sliding refreshes re-seal cookies.
* ``0x01`` (legacy, still opened): AES-256-GCM directly under the ring key with a 12-byte
  random nonce, the version byte outside the AAD. Random 96-bit nonces under one key collide
  with chance ``q² / 2⁹⁷``: NIST SP 800-38D caps such use at ``2³²`` boxes per key (``2⁻³³``).
  Boxes of this version are opened so that cookies and values sealed before the upgrade keep
  working; callers re-seal them as ``0x02`` (:func:`is_current`).

:class:`Sealer` seals with the first key of the ring and opens with any of them, reporting
which one worked so callers can re-seal under the newest key. *Every* failure — unknown
version, truncation, appended bytes, a flipped bit, a wrong key, a wrong AAD — gives the
same ``None``: there is no oracle telling one from another.

The sealed-cookie *payload* (what goes inside the box for :class:`~sessionary.CookieStore`)
is a small binary layout, parsed with exact bounds (:func:`encode_payload`,
:func:`decode_payload`)::

    flags (1)  iat (8)  exp (8)  last_seen (8)  csrf binding (16)
    [auth_time (8)]  [login stamp (8)]  [session ID (16) ‖ pin (8)]
    [user length (2) ‖ user (UTF-8)]
    attribute count (2), then per attribute: name length (2) ‖ name ‖ value length (4) ‖ value

The session ID and pin (:mod:`sessionary.sansio.cookie_state`) are always written; a payload
sealed before they existed reads with pin 0 and an ID derived from its CSRF binding and
creation time (:func:`session_id`).

Times are milliseconds since the epoch; attribute values are codec envelopes.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

from sessionary.exceptions import ConfigurationError, DecodeError

__all__ = [
    "CSRF_BINDING_BYTES",
    "LEGACY_VERSION",
    "OPENABLE_VERSIONS",
    "SEALED_VERSION",
    "SID_BYTES",
    "SealedPayload",
    "Sealer",
    "aad",
    "b64_decode",
    "b64_encode",
    "decode_payload",
    "encode_payload",
    "is_current",
    "session_id",
]

SEALED_VERSION = 0x02
"""AES-256-GCM under a per-box subkey, 192-bit random nonce, version in the AAD (new boxes)."""
LEGACY_VERSION = 0x01
"""AES-256-GCM, 96-bit random nonce, under the ring key itself: opened, never sealed."""
OPENABLE_VERSIONS = frozenset({SEALED_VERSION, LEGACY_VERSION})
"""The allowlist :meth:`Sealer.open` checks first; any other version byte is refused."""
_NONCE_V1 = 12
_NONCE_V2 = 24
_DERIVE = 12  # nonce bytes choosing the subkey; the rest is the GCM nonce
_SUBKEY_INFO = b"sessionary/box/v2"
_TAG = 16
_V2 = bytes([SEALED_VERSION])
CSRF_BINDING_BYTES = 16

_HAS_USER = 0x01
_HAS_AUTH_TIME = 0x02
_HAS_STAMP = 0x04
_HAS_SID = 0x08
_FLAGS = _HAS_USER | _HAS_AUTH_TIME | _HAS_STAMP | _HAS_SID
SID_BYTES = 16
_FIXED = struct.Struct(">BQQQ16s")
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_B64 = re.compile(r"[A-Za-z0-9_-]*")


def _aesgcm() -> tuple[Any, type[Exception]]:
    try:
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415 - optional extra
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415
    except ImportError:  # pragma: no cover - exercised only without the extra
        msg = "sealed cookies and encryption at rest need: pip install 'sessionary[crypto]'"
        raise ConfigurationError(msg) from None
    return AESGCM, InvalidTag


def aad(*parts: str | bytes) -> bytes:
    """Join AAD parts unambiguously: each is length-prefixed, so ``a|bc`` ≠ ``ab|c``."""
    out = bytearray()
    for part in parts:
        raw = part.encode("utf-8") if isinstance(part, str) else part
        out += _U32.pack(len(raw)) + raw
    return bytes(out)


def is_current(box: bytes) -> bool:
    """Whether ``box`` is of the version :meth:`Sealer.seal` makes (else: re-seal it)."""
    return bool(box) and box[0] == SEALED_VERSION


class Sealer:
    """AES-256-GCM boxes under an ordered key ring (seal with the first, open with any)."""

    __slots__ = ("_aead", "_invalid", "_keys", "_legacy")

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys or any(len(k) != 32 for k in keys):
            msg = "a sealer needs one or more 32-byte keys"
            raise ConfigurationError(msg)
        self._aead, self._invalid = _aesgcm()
        self._keys = tuple(keys)
        self._legacy = tuple(self._aead(k) for k in keys)

    def __repr__(self) -> str:
        return f"Sealer(<{len(self._keys)} keys>)"

    def _box_cipher(self, key: bytes, nonce: bytes) -> Any:
        return self._aead(hmac.digest(key, _SUBKEY_INFO + nonce[:_DERIVE], "sha256"))

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext`` under the newest key (version ``0x02``)."""
        nonce = secrets.token_bytes(_NONCE_V2)
        cipher = self._box_cipher(self._keys[0], nonce)
        body: bytes = cipher.encrypt(nonce[_DERIVE:], plaintext, _V2 + associated)
        return _V2 + nonce + body

    def open(self, box: bytes, associated: bytes) -> tuple[bytes, int] | None:
        """Return ``(plaintext, key index)``, or ``None`` for anything that does not verify."""
        version = box[0] if box else None
        if version == SEALED_VERSION and len(box) >= 1 + _NONCE_V2 + _TAG:
            nonce, body = box[1 : 1 + _NONCE_V2], box[1 + _NONCE_V2 :]
            ciphers: Iterable[Any] = (self._box_cipher(k, nonce) for k in self._keys)
            return self._first(ciphers, nonce[_DERIVE:], body, _V2 + associated)
        if version == LEGACY_VERSION and len(box) >= 1 + _NONCE_V1 + _TAG:
            nonce, body = box[1 : 1 + _NONCE_V1], box[1 + _NONCE_V1 :]
            return self._first(self._legacy, nonce, body, associated)
        return None  # a version outside the allowlist, or too short to be a box

    def _first(
        self, ciphers: Iterable[Any], nonce: bytes, body: bytes, associated: bytes
    ) -> tuple[bytes, int] | None:
        for index, cipher in enumerate(ciphers):
            try:
                plaintext: bytes = cipher.decrypt(nonce, body, associated)
            except self._invalid:
                continue  # not this key (or not authentic): try the next one
            return plaintext, index
        return None


def b64_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64_decode(text: str) -> bytes | None:
    """Strict unpadded base64url: ``None`` for other characters or a non-canonical form."""
    if len(text) % 4 == 1 or _B64.fullmatch(text) is None:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64_encode(data) != text:  # unused low bits set: two strings, one value
        return None
    return data


@dataclass(slots=True)
class SealedPayload:
    """What a sealed session cookie carries, all of it authenticated."""

    iat: int
    """When the session was created."""
    exp: int
    """Absolute deadline (judged from here, never from cookie attributes: R54)."""
    last_seen: int
    """Last persisted activity, for the idle timeout."""
    csrf: bytes = field(repr=False)
    """16 random bytes the CSRF token is bound to; replaced on login and rotation."""
    attributes: dict[str, bytes] = field(repr=False)
    user: str | None = None
    auth_time: int | None = None
    stamp: int | None = None
    """When the user logged in (for the user epoch: ``revoke_user`` ends older logins)."""
    sid: bytes | None = field(default=None, repr=False)
    """The session's random ID (16 bytes), the same in every cookie of the session;
    ``None`` in payloads sealed before it existed (see :func:`session_id`)."""
    pin: int = 0
    """When the last state change that must not be rolled back happened (login, rotation):
    the revocation store refuses cookies of the session pinned before its floor."""


def session_id(payload: SealedPayload) -> bytes:
    """The payload's session ID (for the revocation store's floor).

    A payload sealed without one gets an ID derived from its CSRF binding and creation time,
    so every copy of that cookie maps to the same session.
    """
    if payload.sid is not None:
        return payload.sid
    legacy = blake2b(payload.csrf + _U64.pack(payload.iat), digest_size=SID_BYTES)
    return legacy.digest()


def encode_payload(payload: SealedPayload) -> bytes:
    """Serialize a payload (see the module docstring for the layout)."""
    flags = (
        (_HAS_USER if payload.user is not None else 0)
        | (_HAS_AUTH_TIME if payload.auth_time is not None else 0)
        | (_HAS_STAMP if payload.stamp is not None else 0)
        | (_HAS_SID if payload.sid is not None else 0)
    )
    out = bytearray(_FIXED.pack(flags, payload.iat, payload.exp, payload.last_seen, payload.csrf))
    if payload.auth_time is not None:
        out += _U64.pack(payload.auth_time)
    if payload.stamp is not None:
        out += _U64.pack(payload.stamp)
    if payload.sid is not None:
        if len(payload.sid) != SID_BYTES:
            msg = f"a sealed session ID is {SID_BYTES} bytes"
            raise ValueError(msg)
        out += payload.sid + _U64.pack(payload.pin)
    if payload.user is not None:
        user = payload.user.encode("utf-8")
        out += _U16.pack(len(user)) + user
    out += _U16.pack(len(payload.attributes))
    for name, value in payload.attributes.items():
        raw = name.encode("utf-8")
        out += _U16.pack(len(raw)) + raw + _U32.pack(len(value)) + value
    return bytes(out)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            msg = "sealed payload is truncated"
            raise DecodeError(msg)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: struct.Struct) -> int:
        value: int = fmt.unpack(self.take(fmt.size))[0]
        return value

    def text(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            msg = "sealed payload holds invalid UTF-8"
            raise DecodeError(msg) from None


def decode_payload(data: bytes) -> SealedPayload:
    """Parse a payload; anything malformed raises :class:`~sessionary.exceptions.DecodeError`."""
    reader = _Reader(data)
    flags, iat, exp, last_seen, csrf = _FIXED.unpack(reader.take(_FIXED.size))
    if flags & ~_FLAGS:
        msg = "sealed payload has unknown flags"
        raise DecodeError(msg)
    auth_time = reader.unpack(_U64) if flags & _HAS_AUTH_TIME else None
    stamp = reader.unpack(_U64) if flags & _HAS_STAMP else None
    sid, pin = None, 0
    if flags & _HAS_SID:
        sid = reader.take(SID_BYTES)
        pin = reader.unpack(_U64)
    user = reader.text(reader.unpack(_U16)) if flags & _HAS_USER else None
    attributes: dict[str, bytes] = {}
    for _ in range(reader.unpack(_U16)):
        name = reader.text(reader.unpack(_U16))
        value = reader.take(reader.unpack(_U32))
        if name in attributes:
            msg = "sealed payload repeats an attribute"
            raise DecodeError(msg)
        attributes[name] = value
    if reader.pos != len(data):
        msg = "sealed payload has trailing bytes"
        raise DecodeError(msg)
    return SealedPayload(iat, exp, last_seen, csrf, attributes, user, auth_time, stamp, sid, pin)
