"""Key ring and keyed hashes: purpose-bound subkeys (HKDF-SHA256, RFC 5869) per secret.

For each configured secret the ring derives separate subkeys, so no key is ever used for
two purposes:

* ``lookup``      — names the store record: ``BLAKE2b-128(key=k_lookup, selector)``
* ``validator``   — the stored proof: ``BLAKE2b-128(key=k_validator, validator)``
* ``fingerprint`` — a short keyed hash for logs, events and the login's client address
  (made with the first secret, recognised under every secret: :meth:`KeyRing.fingerprint_matches`)
* ``cookie-seal`` — AES-256-GCM key of the sealed cookie store (:mod:`sessionary.sansio.sealed`)
* ``at-rest``     — AES-256-GCM key for attribute values encrypted at rest
* ``csrf``        — HMAC key of CSRF tokens (:mod:`sessionary.sansio.csrf`)
* ``record``      — keyed BLAKE2b MAC of stored records (:mod:`sessionary.sansio.record_auth`)
* ``presession``  — tag of pre-session IDs (:mod:`sessionary.sansio.presession`)
* ``migration``   — derives the ID a legacy session migrates to (:mod:`sessionary.sansio.migration`)

Each purpose has its own HKDF ``info`` string, so keys of different purposes are
independent even though they come from one secret.

Keyed BLAKE2b (RFC 7693) is a PRF/MAC by design and needs no HMAC construction; here it
costs a third of ``hmac.digest(..., "sha256")`` on the request path. HKDF runs only at
start-up.

The first secret serves new sessions; older secrets still find and verify sessions created
under them until those expire (keep a retired secret in the ring for one absolute timeout).
Nothing a user or an application keeps depends on which secret comes first: a session's
device ``ref`` is a plain (unkeyed) hash of its storage key, and a client hash recorded at
login is recognised under every secret of the ring, so rotating ``[A]`` to ``[B, A]``
changes no ref and breaks no client binding.
"""

from __future__ import annotations

import hmac
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import blake2b

from sessionary.sansio.events import session_ref

__all__ = ["DIGEST_BYTES", "PURPOSES", "KeyRing", "hkdf_sha256"]

DIGEST_BYTES = 16
_SALT = b"sessionary/v1"
PURPOSES: dict[str, bytes] = {
    "cookie-seal": b"sessionary cookie-seal aes-256-gcm",
    "at-rest": b"sessionary at-rest aes-256-gcm",
    "csrf": b"sessionary csrf hmac-sha256",
    "record": b"sessionary record-mac blake2b",
    "presession": b"sessionary presession-tag blake2b",
    "migration": b"sessionary legacy-migration hmac-sha256",
}
"""Purposes served by :meth:`KeyRing.subkeys`, with their HKDF ``info`` strings."""


def hkdf_sha256(secret: bytes, info: bytes, length: int = 32, salt: bytes = _SALT) -> bytes:
    """Derive ``length`` bytes from ``secret`` for the purpose ``info`` (RFC 5869)."""
    if length > 255 * 32:
        msg = "HKDF-SHA256 output is limited to 8160 bytes"
        raise ValueError(msg)
    prk = hmac.digest(salt, secret, "sha256")
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        okm += block
        counter += 1
    return okm[:length]


def _label(data: bytes | str, key: bytes) -> str:
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return blake2b(raw, key=key, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class _Generation:
    lookup: bytes
    validator: bytes


class KeyRing:
    """Purpose subkeys for an ordered list of secrets (newest first)."""

    __slots__ = ("_fingerprints", "_generations", "_subkeys")

    def __init__(self, secrets: Sequence[bytes]) -> None:
        if not secrets:
            msg = "a key ring needs at least one secret"
            raise ValueError(msg)
        self._generations = tuple(
            _Generation(
                lookup=hkdf_sha256(s, b"session-lookup"),
                validator=hkdf_sha256(s, b"session-validator"),
            )
            for s in secrets
        )
        self._fingerprints = tuple(hkdf_sha256(s, b"log-fingerprint") for s in secrets)
        self._subkeys = {
            purpose: tuple(hkdf_sha256(s, info) for s in secrets)
            for purpose, info in PURPOSES.items()
        }

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self._generations)} generations>)"

    def __len__(self) -> int:
        return len(self._generations)

    def subkeys(self, purpose: str) -> tuple[bytes, ...]:
        """The 32-byte keys for ``purpose`` (see :data:`PURPOSES`), newest first.

        Seal or sign with the first; open or verify with any (rotation).
        """
        try:
            return self._subkeys[purpose]
        except KeyError:
            msg = f"unknown key purpose {purpose!r}"
            raise ValueError(msg) from None

    def storage_key(self, selector: bytes, generation: int = 0, tenant: str = "") -> str:
        """The store-facing name of a session: 22 base64url characters, never the raw ID.

        A non-empty ``tenant`` is bound in, length-prefixed (:mod:`sessionary.sansio.tenants`):
        the same selector names a different record under each tenant.
        """
        data = selector
        if tenant:
            raw = tenant.encode("ascii")
            data = b"\x00tenant" + len(raw).to_bytes(1, "big") + raw + selector
        mac = blake2b(data, key=self._generations[generation].lookup, digest_size=DIGEST_BYTES)
        return urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def validator_digest(self, validator: bytes, generation: int = 0) -> bytes:
        """The stored proof for a validator (16 bytes)."""
        key = self._generations[generation].validator
        return blake2b(validator, key=key, digest_size=DIGEST_BYTES).digest()

    def fingerprint(self, data: bytes | str) -> str:
        """A keyed, non-reversible 16-hex-digit label for logs, events and error messages."""
        return _label(data, self._fingerprints[0])

    def fingerprint_matches(self, data: bytes | str, label: str | None) -> bool:
        """Whether ``label`` is the :meth:`fingerprint` of ``data`` under any secret of the ring.

        For labels that are stored and compared later (the client address hash recorded at
        login): one made before a rotation of the ring still matches after it.
        """
        if label is None:
            return False
        found = False
        for key in self._fingerprints:
            found |= hmac.compare_digest(_label(data, key), label)
        return found

    @staticmethod
    def session_ref(storage_key: str) -> str:
        """A handle naming a stored session in device lists (reveals nothing about its ID).

        See :func:`sessionary.sansio.events.session_ref`.
        """
        return session_ref(storage_key)

    @staticmethod
    def user_key(user_id: str, tenant: str = "") -> str:
        """The index tag of a user: 22 base64url characters, the same under every secret.

        It only names the user's index and epoch in the store (a hash tag, so every key of
        one user shares a Cluster slot); it is not a secret, and the user ID is stored with
        authenticated sessions anyway. A non-empty ``tenant`` is bound in, length-prefixed:
        the same user ID under two tenants has two indexes and two epochs (R64, R66).
        """
        data = user_id.encode("utf-8", "surrogatepass")
        if tenant:
            raw = tenant.encode("ascii")
            data = b"\x00tenant" + len(raw).to_bytes(1, "big") + raw + data
        mac = blake2b(
            data,
            digest_size=DIGEST_BYTES,
            person=b"sessionary-user",
        )
        return urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    @staticmethod
    def cookie_key(sid: bytes, tenant: str = "") -> str:
        """The revocation-store name of a sealed cookie session (its floor): 22 characters.

        An unkeyed hash, like :meth:`user_key`: ``sid`` is random and travels only inside
        the sealed cookie, so the name reveals nothing, and it is the same under every ring.
        """
        data = sid
        if tenant:
            raw = tenant.encode("ascii")
            data = b"\x00tenant" + len(raw).to_bytes(1, "big") + raw + sid
        mac = blake2b(data, digest_size=DIGEST_BYTES, person=b"sessionary-sid")
        return urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    @staticmethod
    def digests_equal(a: bytes, b: bytes) -> bool:
        """Constant-time comparison of two digests (docs/security.md R25)."""
        return hmac.compare_digest(a, b)
