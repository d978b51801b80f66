"""Key ring and keyed hashes: purpose-bound subkeys (HKDF-SHA256, RFC 5869) per secret.

For each configured secret the ring derives separate subkeys, so no key is ever used for
two purposes:

* ``lookup``      — names the store record: ``BLAKE2b-128(key=k_lookup, selector)``
* ``validator``   — the stored proof: ``BLAKE2b-128(key=k_validator, validator)``
* ``fingerprint`` — a short keyed hash of an ID for logs and events (first secret only)

Keyed BLAKE2b (RFC 7693) is a PRF/MAC by design and needs no HMAC construction; here it
costs a third of ``hmac.digest(..., "sha256")`` on the request path. HKDF runs only at
start-up.

The first secret serves new sessions; older secrets still find and verify sessions created
under them until those expire (keep a retired secret in the ring for one absolute timeout).
"""

from __future__ import annotations

import hmac
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import blake2b

__all__ = ["DIGEST_BYTES", "KeyRing", "hkdf_sha256"]

DIGEST_BYTES = 16
_SALT = b"sessionary/v1"


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


@dataclass(frozen=True, slots=True)
class _Generation:
    lookup: bytes
    validator: bytes


class KeyRing:
    """Purpose subkeys for an ordered list of secrets (newest first)."""

    __slots__ = ("_fingerprint", "_generations")

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
        self._fingerprint = hkdf_sha256(secrets[0], b"log-fingerprint")

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self._generations)} generations>)"

    def __len__(self) -> int:
        return len(self._generations)

    def storage_key(self, selector: bytes, generation: int = 0) -> str:
        """The store-facing name of a session: 22 base64url characters, never the raw ID."""
        mac = blake2b(selector, key=self._generations[generation].lookup, digest_size=DIGEST_BYTES)
        return urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def validator_digest(self, validator: bytes, generation: int = 0) -> bytes:
        """The stored proof for a validator (16 bytes)."""
        key = self._generations[generation].validator
        return blake2b(validator, key=key, digest_size=DIGEST_BYTES).digest()

    def fingerprint(self, data: bytes | str) -> str:
        """A keyed, non-reversible 16-hex-digit label for logs, events and error messages."""
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        return blake2b(raw, key=self._fingerprint, digest_size=8).hexdigest()

    def session_ref(self, storage_key: str) -> str:
        """A handle naming a stored session in device lists (reveals nothing about its ID)."""
        return self.fingerprint("ref:" + storage_key)

    @staticmethod
    def user_key(user_id: str) -> str:
        """The index tag of a user: 22 base64url characters, the same under every secret.

        It only names the user's index and epoch in the store (a hash tag, so every key of
        one user shares a Cluster slot); it is not a secret, and the user ID is stored with
        authenticated sessions anyway.
        """
        mac = blake2b(
            user_id.encode("utf-8", "surrogatepass"),
            digest_size=DIGEST_BYTES,
            person=b"sessionary-user",
        )
        return urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    @staticmethod
    def digests_equal(a: bytes, b: bytes) -> bool:
        """Constant-time comparison of two digests (SECURITY.md R25)."""
        return hmac.compare_digest(a, b)
