"""Operations the core asks the I/O shell to perform, and the results it expects back.

These dataclasses are the whole contract between the sans-IO core and a store: a store
receives a storage key (a keyed hash, never the raw ID), encoded attribute bytes and
metadata, and answers with a result. Times are integer milliseconds since the epoch,
durations integer milliseconds.

They are value objects: treat them as immutable. (They are not ``frozen=True`` only because
a frozen slotted dataclass costs three times as much to build, and a request builds several.)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CommitResult",
    "CommitStatus",
    "Create",
    "Destroy",
    "Load",
    "LoadResult",
    "LoadStatus",
    "Operation",
    "RecordMeta",
    "StoredSession",
    "Update",
]


@dataclass(slots=True)
class RecordMeta:
    """Server-side metadata of a stored session; never accepted from the client (R33)."""

    created: int
    accessed: int
    """Last *persisted* access (moves only when a touch or a write is due)."""
    idle: int
    """Idle timeout of this session."""
    deadline: int
    """Absolute deadline."""
    digest: bytes = field(repr=False)
    """Keyed digest of the current validator."""
    version: int = 1
    user: str | None = None
    auth_time: int | None = None


@dataclass(slots=True)
class StoredSession:
    """A session record as a store returns it: encoded attributes plus metadata."""

    attributes: Mapping[str, bytes] = field(repr=False)
    meta: RecordMeta
    touched: bool = False


class LoadStatus(enum.Enum):
    """Outcome of a :class:`Load`."""

    FOUND = "found"
    MISSING = "missing"
    """No session record under this key (never existed, destroyed, or not a session)."""
    INVALID = "invalid"
    """A record exists but the validator does not match: a stale or forged ID."""
    EXPIRED_IDLE = "expired_idle"
    EXPIRED_ABSOLUTE = "expired_absolute"


@dataclass(slots=True)
class LoadResult:
    """What a store found; ``record`` is set only for ``FOUND``."""

    status: LoadStatus
    record: StoredSession | None = None


@dataclass(slots=True)
class Load:
    """Read a session, verify its validator digest and expiry, and touch it when due.

    A store must, in one atomic step: return MISSING when there is no session record;
    INVALID (touching nothing) when ``digest`` differs from the stored one; delete the
    record and return EXPIRED_* when ``now`` has reached the absolute deadline or
    ``accessed + min(idle, max_idle)``; otherwise, when ``now - accessed >= touch_after``,
    set ``accessed = now`` and the time-to-live to :func:`sessionary.sansio.expiry.ttl_ms`.
    """

    key: str
    digest: bytes = field(repr=False)
    now: int
    max_idle: int
    touch_after: int


@dataclass(slots=True)
class Create:
    """Create a new session record; refuse (EXISTS) when the key is taken.

    Idempotent: when the key already holds a record written with this ``nonce``, the
    result is OK (a retried request must not fail on its own earlier success).
    """

    key: str
    digest: bytes = field(repr=False)
    """Keyed digest of the validator: 16 bytes."""
    nonce: bytes = field(repr=False)
    """8 random bytes naming this write (for idempotent retries)."""
    now: int
    idle: int
    deadline: int
    attributes: Mapping[str, bytes] = field(repr=False)
    user: str | None = None
    auth_time: int | None = None


@dataclass(slots=True)
class Update:
    """Apply a delta to an existing session record, atomically and conditionally.

    A store must refuse with GONE when the record no longer exists or has expired (never
    recreate it), with ROTATED when its digest is not ``expect_digest``, and — for each
    name in ``expected`` whose stored bytes differ from the expected bytes (``None`` meaning
    absent) — report the name as a conflict and, when ``strict``, refuse with CONFLICT.
    Otherwise it deletes ``delete``, writes ``attributes`` and the given metadata, sets the
    digest to ``digest`` (a rotation when it differs), sets ``accessed`` to
    ``max(accessed, now)``, bumps the version, and sets the TTL from that access time
    (so a slower concurrent request never shortens it). Idempotent per ``nonce``.
    """

    key: str
    expect_digest: bytes = field(repr=False)
    digest: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    now: int
    max_idle: int
    attributes: Mapping[str, bytes] = field(repr=False)
    delete: tuple[str, ...] = ()
    expected: Mapping[str, bytes | None] = field(default_factory=dict, repr=False)
    strict: bool = False
    user: str | None = None
    """New user ID, or ``None`` to leave it unchanged."""
    auth_time: int | None = None
    deadline: int | None = None
    """New absolute deadline (only re-authentication may extend it), or ``None``."""


@dataclass(slots=True)
class Destroy:
    """Delete a session record, but only while its digest is ``digest``."""

    key: str
    digest: bytes = field(repr=False)


class CommitStatus(enum.Enum):
    """Outcome of a :class:`Create` or :class:`Update`."""

    OK = "ok"
    GONE = "gone"
    """The record was destroyed or expired meanwhile; nothing was written."""
    ROTATED = "rotated"
    """The ID was rotated by a concurrent request; nothing was written."""
    CONFLICT = "conflict"
    """Strict mode: fields read and written by this request changed; nothing was written."""
    EXISTS = "exists"
    """Create: the key is taken; nothing was written."""


@dataclass(slots=True)
class CommitResult:
    """Outcome of a write; ``conflicts`` names the fields that changed underneath."""

    status: CommitStatus
    conflicts: tuple[str, ...] = ()


Operation = Load | Create | Update | Destroy
