"""Encryption at rest for server-side stores (opt-in: ``SessionConfig(encrypt_at_rest=True)``).

Stores stay byte movers: the core seals each attribute value before it leaves (Create,
Update) and opens every value when a record arrives (Load), with AES-256-GCM under the
``at-rest`` subkeys of the key ring (seal with the newest, open with any). The AAD binds a
value to its record's storage key and its field name, so a value cannot be moved to another
session or another field. A Redis dump, backup or replica shows field names and metadata,
never a value.

Metadata the store keeps in the clear (user, auth time, creation, absolute deadline) is
authenticated by one more sealed field, :data:`META_FIELD`, holding the same values; a record
whose clear metadata differs from its sealed copy — a user ID edited in Redis, a deadline
pushed back — or one of whose values does not open is *forged*: it loads as anonymous, its
cookie is cleared and an ``invalid_id`` event with reason ``"unauthenticated record"`` is
emitted (SECURITY.md R42).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import RecordMeta
from sessionary.sansio.sealed import Sealer, aad

__all__ = ["META_FIELD", "AtRest"]

META_FIELD = "\x00sessionary-meta"
"""The sealed copy of the record's metadata (never visible to handlers)."""
_META = struct.Struct(">qqqq")
_NONE = -1


def _meta_plaintext(user: str | None, auth_time: int | None, created: int, deadline: int) -> bytes:
    flags = 0 if user is None else 1
    head = _META.pack(flags, _NONE if auth_time is None else auth_time, created, deadline)
    return head + (user or "").encode("utf-8")


class AtRest:
    """Seals and opens attribute values of server-side records."""

    __slots__ = ("_sealer",)

    def __init__(self, keyring: KeyRing) -> None:
        self._sealer = Sealer(keyring.subkeys("at-rest"))

    def __repr__(self) -> str:
        return "AtRest(<keys hidden>)"

    def seal(self, key: str, attributes: Mapping[str, bytes]) -> dict[str, bytes]:
        """Seal each value for the record ``key``."""
        seal = self._sealer.seal
        return {name: seal(value, aad(b"at-rest", key, name)) for name, value in attributes.items()}

    def meta(
        self, key: str, *, user: str | None, auth_time: int | None, created: int, deadline: int
    ) -> dict[str, bytes]:
        """The sealed metadata field for these values."""
        plaintext = _meta_plaintext(user, auth_time, created, deadline)
        return {META_FIELD: self._sealer.seal(plaintext, aad(b"at-rest", key, META_FIELD))}

    def open(
        self, key: str, attributes: Mapping[str, bytes], meta: RecordMeta
    ) -> dict[str, bytes] | None:
        """The record's plaintext values, or ``None`` when anything fails to authenticate."""
        sealed_meta = attributes.get(META_FIELD)
        if sealed_meta is None:
            return None
        opened = self._sealer.open(sealed_meta, aad(b"at-rest", key, META_FIELD))
        expected = _meta_plaintext(meta.user, meta.auth_time, meta.created, meta.deadline)
        if opened is None or not KeyRing.digests_equal(opened[0], expected):
            return None
        values: dict[str, bytes] = {}
        for name, box in attributes.items():
            if name == META_FIELD:
                continue
            plain = self._sealer.open(box, aad(b"at-rest", key, name))
            if plain is None:
                return None
            values[name] = plain[0]
        return values
