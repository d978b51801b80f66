"""Record authentication: every stored session carries a keyed MAC over what it means.

Whoever can write to the store (a Redis ``HSET``, a restored backup, a replica promoted with
stale data) must not be able to turn ``alice`` into ``admin``, change a value, delete a
field, put back an older value, or copy a value from one session's record into another's.
So the core seals each record it writes with a 16-byte keyed BLAKE2b MAC over:

* the storage key (a value copied to another record fails there);
* the record version, bumped by every write (with the list of fields, an older value or a
  deleted field fails);
* the validator digest, creation time, idle timeout, absolute deadline, user, auth time,
  user index tag and device information;
* every attribute, name and stored bytes, in name order (sealed boxes when encryption at rest
  is on: :mod:`sessionary.sansio.at_rest` then keeps values secret, this keeps the record whole).

Not covered, because the store itself changes them between writes: the last access time
(the sliding touch), the revocation stamp (``revoke_user(keep_current=...)``), the write
nonce and tombstones. A store writer can therefore keep an existing session alive, or end it,
but not forge or alter one. The key is the ``record`` subkey of the generation the record
was found under (:class:`~sessionary.sansio.keys.KeyRing`), so rotating the secret keeps
records readable until they expire.

Stores never compute or check the MAC: they keep it as opaque metadata
(:attr:`~sessionary.sansio.ops.RecordMeta.seal`) and refuse an update unless the record is
still at the version the writer read (:class:`~sessionary.sansio.ops.Update`), so the core
can always compute the MAC of the whole record it is about to write.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Mapping
from hashlib import blake2b

__all__ = ["SEAL_BYTES", "record_seal", "seal_matches"]

SEAL_BYTES = 16
_PERSON = b"sessionary-rec1"
_NONE = b"\xff"


_LENGTH = struct.Struct(">I").pack
_NUMBERS = struct.Struct(">Qqqq").pack  # version, created, idle, deadline


def _text(value: str | None) -> bytes:
    if value is None:
        return _NONE
    data = value.encode("utf-8", "surrogatepass")
    return b"\x00" + _LENGTH(len(data)) + data


def _blob(value: bytes | None) -> bytes:
    return _NONE if value is None else b"\x00" + _LENGTH(len(value)) + value


def _number(value: int | None) -> bytes:
    return _NONE if value is None else b"\x00" + value.to_bytes(8, "big", signed=True)


def record_seal(
    key: bytes,
    storage_key: str,
    *,
    version: int,
    digest: bytes,
    created: int,
    idle: int,
    deadline: int,
    user: str | None,
    auth_time: int | None,
    user_key: str | None,
    device: bytes | None,
    attributes: Mapping[str, bytes],
) -> bytes:
    """The MAC of one record state (16 bytes), under the generation's ``record`` subkey.

    Every variable-length part is length-prefixed (4 bytes, big-endian) and every number
    fixed-width, so no two record states share an input; the attributes follow in name order.
    """
    key_bytes = storage_key.encode("ascii")
    numbers = _NUMBERS(version, created, idle, deadline)
    parts = [
        _LENGTH(len(key_bytes)),
        key_bytes,
        numbers[:8],  # the version
        _LENGTH(len(digest)),
        digest,
        numbers[8:],  # created, idle, deadline
        _text(user),
        _number(auth_time),
        _text(user_key),
        _blob(device),
        _LENGTH(len(attributes)),
    ]
    for name in sorted(attributes):
        encoded = name.encode("utf-8", "surrogatepass")
        value = attributes[name]
        parts += (_LENGTH(len(encoded)), encoded, _LENGTH(len(value)), value)
    return blake2b(b"".join(parts), key=key, digest_size=SEAL_BYTES, person=_PERSON).digest()


def seal_matches(expected: bytes, presented: bytes) -> bool:
    """Constant-time comparison of two record MACs."""
    return len(presented) == SEAL_BYTES and hmac.compare_digest(expected, presented)
