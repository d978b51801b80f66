"""Encryption at rest for server-side stores (opt-in: ``SessionConfig(encrypt_at_rest=True)``).

Stores stay byte movers: the core seals each attribute value before it leaves (Create,
Update) and opens every value when a record arrives (Load), with AES-256-GCM under the
``at-rest`` subkeys of the key ring (seal with the newest, open with any). The AAD binds a
value to its record's storage key and its field name, so a value cannot be moved to another
session or another field. A Redis dump, backup or replica shows field names and metadata,
never a value.

The record as a whole — which fields exist, their current versions, the metadata kept in the
clear (user, auth time, creation, absolute deadline) — is authenticated by the record MAC
every record carries, encrypted or not (:mod:`sessionary.sansio.record_auth`): a field
deleted, an older sealed value put back or a user ID edited in Redis makes the record
*corrupt* (anonymous, deleted, a ``corrupt_record`` alert; R42). A value that does not open
is reported the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from sessionary.sansio.keys import KeyRing
from sessionary.sansio.sealed import Sealer, aad

__all__ = ["AtRest"]


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

    def open(self, key: str, attributes: Mapping[str, bytes]) -> dict[str, bytes] | None:
        """The record's plaintext values, or ``None`` when one fails to open."""
        values: dict[str, bytes] = {}
        open_box = self._sealer.open
        for name, box in attributes.items():
            plain = open_box(box, aad(b"at-rest", key, name))
            if plain is None:
                return None
            values[name] = plain[0]
        return values
