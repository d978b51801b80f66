"""Rows of the SQL stores, pure: the attribute blob and the session columns.

A session's attributes are kept in one column as a length-prefixed blob (each field: the
UTF-8 name's length and the value's length as 4-byte big-endian integers, then both): names
and values are binary-safe, and a store applies a write's field-level delta to it inside the
transaction that checked the version it was read at.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sessionary.sansio.ops import RecordMeta, StoredSession

__all__ = [
    "SESSION_COLUMNS",
    "SQLCensus",
    "SessionRow",
    "decode_attributes",
    "encode_attributes",
    "merge_attributes",
]

_HEADER = struct.Struct(">II")

SESSION_COLUMNS = (
    "key, digest, nonce, created, accessed, idle, deadline, version, user_id, auth_time, "
    "user_key, stamp, device, seal, attributes, ended, gc_at, indexed_until"
)
"""The columns :class:`SessionRow` reads, in its order."""


def encode_attributes(attributes: Mapping[str, bytes]) -> bytes:
    """Encode an attribute map into one blob."""
    parts: list[bytes] = []
    for name, value in attributes.items():
        raw = name.encode("utf-8", "surrogatepass")
        parts.append(_HEADER.pack(len(raw), len(value)))
        parts.append(raw)
        parts.append(bytes(value))
    return b"".join(parts)


def decode_attributes(blob: bytes) -> dict[str, bytes]:
    """Decode a blob written by :func:`encode_attributes`."""
    view = memoryview(blob)
    out: dict[str, bytes] = {}
    at, end = 0, len(view)
    while at < end:
        name_len, value_len = _HEADER.unpack_from(view, at)
        at += _HEADER.size
        name = bytes(view[at : at + name_len]).decode("utf-8", "surrogatepass")
        at += name_len
        out[name] = bytes(view[at : at + value_len])
        at += value_len
    return out


def merge_attributes(
    current: Mapping[str, bytes], written: Mapping[str, bytes], deleted: Sequence[str]
) -> dict[str, bytes]:
    """Apply a write's delta (``deleted`` first, then ``written``) to the current fields."""
    merged = dict(current)
    for name in deleted:
        merged.pop(name, None)
    merged.update(written)
    return merged


def _bytes(value: Any) -> bytes:
    return b"" if value is None else bytes(value)


def _opt_bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


class SessionRow:
    """One row of ``sessionary_sessions`` (the columns of :data:`SESSION_COLUMNS`)."""

    __slots__ = (
        "accessed",
        "attributes",
        "auth_time",
        "created",
        "deadline",
        "device",
        "digest",
        "ended",
        "gc_at",
        "idle",
        "indexed_until",
        "key",
        "nonce",
        "seal",
        "stamp",
        "user_id",
        "user_key",
        "version",
    )

    def __init__(self, row: Sequence[Any]) -> None:
        (
            self.key,
            digest,
            nonce,
            self.created,
            self.accessed,
            self.idle,
            self.deadline,
            self.version,
            self.user_id,
            auth_time,
            self.user_key,
            stamp,
            device,
            seal,
            attributes,
            self.ended,
            self.gc_at,
            indexed_until,
        ) = row
        self.digest: bytes = _bytes(digest)
        self.nonce: bytes = _bytes(nonce)
        self.auth_time: int | None = _opt_int(auth_time)
        self.stamp: int | None = _opt_int(stamp)
        self.device: bytes | None = _opt_bytes(device)
        self.seal: bytes = _bytes(seal)
        self.attributes: bytes = _bytes(attributes)
        self.indexed_until: int | None = _opt_int(indexed_until)

    def meta(self) -> RecordMeta:
        """The record's metadata."""
        return RecordMeta(
            created=int(self.created),
            accessed=int(self.accessed),
            idle=int(self.idle),
            deadline=int(self.deadline),
            digest=self.digest,
            version=int(self.version),
            user=self.user_id,
            auth_time=self.auth_time,
            user_key=self.user_key,
            stamp=self.stamp,
            device=self.device,
            seal=self.seal,
        )

    def stored(self, *, touched: bool, user_epoch: int | None = None) -> StoredSession:
        """The record as a store returns it."""
        return StoredSession(decode_attributes(self.attributes), self.meta(), touched, user_epoch)


class SQLCensus(NamedTuple):
    """A SQL store's rows at one instant (``sessionary stats``)."""

    live_sessions: int
    authenticated_sessions: int
    users: int
    ended_sessions: int
    """Tombstones (a logout elsewhere, a revocation, an eviction, a sweep) kept a while."""
    purgeable_rows: int
    """Rows past their time, for ``sessionary db purge`` or the sweeper."""
    rows: int
    locks_held: int
    events: int
