"""Operations the core asks the I/O shell to perform, and the results it expects back.

These are the whole contract between the sans-IO core and a store: a store receives a
storage key (a keyed hash, never the raw ID), encoded attribute bytes and metadata, and
answers with a result. Times are integer milliseconds since the epoch, durations integer
milliseconds. Each operation has its own result type:

=======================  =====================================================
operation                result
=======================  =====================================================
:class:`Load`            :class:`LoadResult`
:class:`Create`          :class:`CommitResult`
:class:`Update`          :class:`CommitResult`
:class:`Destroy`         :class:`DestroyResult`
:class:`Discard`         :class:`DiscardResult`
``ReadCookieState``      ``CookieState`` (sealed cookies, :mod:`~sessionary.sansio.cookie_state`)
``PinCookie``            :class:`PinResult`
=======================  =====================================================

Results are immutable (named tuples: as cheap to build as a tuple) and a store returns fresh
ones; its attribute mappings are never changed after they are returned. Operations are
value objects built by the core.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
from sessionary.sansio.events import ChangeEvents

__all__ = [
    "CommitResult",
    "CommitStatus",
    "Create",
    "Destroy",
    "DestroyResult",
    "Discard",
    "DiscardResult",
    "ExpiredSession",
    "Load",
    "LoadResult",
    "LoadStatus",
    "Operation",
    "PinResult",
    "RecordMeta",
    "Result",
    "StoredSession",
    "Update",
    "UserBinding",
]


class RecordMeta(NamedTuple):
    """Server-side metadata of a stored session; never accepted from the client (R33)."""

    created: int
    accessed: int
    """Last *persisted* access (moves only when a touch or a write is due)."""
    idle: int
    """Idle timeout of this session."""
    deadline: int
    """Absolute deadline."""
    digest: bytes
    """Keyed digest of the current validator."""
    version: int = 1
    user: str | None = None
    auth_time: int | None = None
    user_key: str | None = None
    """The user's index tag (:meth:`~sessionary.sansio.keys.KeyRing.user_key`), when logged in."""
    stamp: int | None = None
    """Revocation stamp: the session is revoked once its user's epoch reaches it."""
    device: bytes | None = None
    """Encoded device information (:mod:`sessionary.sansio.users`), when recorded."""
    seal: bytes = b""
    """The record's MAC (:mod:`sessionary.sansio.record_auth`), kept by the store as is."""

    def __repr__(self) -> str:
        return (
            f"RecordMeta(created={self.created}, accessed={self.accessed}, idle={self.idle}, "
            f"deadline={self.deadline}, version={self.version}, user={self.user!r}, "
            f"auth_time={self.auth_time}, user_key={self.user_key!r}, stamp={self.stamp})"
        )


class StoredSession(NamedTuple):
    """A session record as a store returns it: encoded attributes plus metadata."""

    attributes: Mapping[str, bytes]
    meta: RecordMeta
    touched: bool = False
    user_epoch: int | None = None
    """The user's current epoch (``revoke_user`` time), read with the record; ``None`` when
    the record has no user or the store has not read it."""

    def __repr__(self) -> str:
        return (
            f"StoredSession(attributes=<{len(self.attributes)} fields>, meta={self.meta!r}, "
            f"touched={self.touched}, user_epoch={self.user_epoch})"
        )


class LoadStatus(enum.Enum):
    """Outcome of a :class:`Load`."""

    FOUND = "found"
    MISSING = "missing"
    """No session record under this key (never existed, destroyed, or not a session)."""
    INVALID = "invalid"
    """A record exists but the validator does not match: a stale or forged ID."""
    EXPIRED_IDLE = "expired_idle"
    EXPIRED_ABSOLUTE = "expired_absolute"
    ENDED = "ended"
    """The session was ended by ``revoke_session`` or an eviction; ``reason`` says which."""
    CORRUPT = "corrupt"
    """Something that is not a session record sits under this key (``reason`` says what)."""


class LoadResult(NamedTuple):
    """What a store found: ``record`` only for ``FOUND``, ``reason`` for ``ENDED``/``CORRUPT``."""

    status: LoadStatus
    record: StoredSession | None = None
    reason: str | None = None


@dataclass(slots=True)
class UserBinding:
    """Index a session under its user (a login), enforcing the per-user session limit.

    A store must, before writing the session: drop index entries of sessions that no longer
    exist or have expired; then, when the user already has ``max_sessions`` other live
    sessions, refuse with LIMIT (policy ``reject_new``) or end the oldest ones with the
    reason ``"evicted"`` (policy ``evict_oldest``) and report their keys. It records
    ``stamp`` and ``device`` with the session and adds the session to the user's index,
    where it stays until ``deadline`` (its absolute deadline).
    """

    user_key: str
    stamp: int
    deadline: int
    device: bytes | None = field(default=None, repr=False)
    max_sessions: int | None = None
    evict_oldest: bool = False


@dataclass(slots=True)
class Load:
    """Read a session, verify its validator digest and expiry, and touch it when due.

    A store must, in one atomic step: return MISSING when there is no session record;
    CORRUPT when the key holds something that cannot be a session record (a value of
    another type); INVALID (touching nothing) when ``digest`` differs from the stored one;
    ENDED for a tombstone; delete the record and return EXPIRED_* when ``now`` has reached
    the absolute deadline or ``accessed + min(idle, max_idle)``; otherwise, when
    ``now - accessed >= touch_after``, set ``accessed = now`` and the time-to-live to
    :func:`sessionary.sansio.expiry.ttl_ms` plus ``linger``.

    ``linger``: how long past its expiry a record is kept (never served), so that a client
    returning late learns *why* its session ended (``end_reason``). Every write sets the
    time-to-live the same way.
    """

    key: str
    digest: bytes = field(repr=False)
    now: int
    max_idle: int
    touch_after: int
    linger: int = 0


@dataclass(slots=True)
class Create:
    """Create a new session record; refuse (EXISTS) when the key is taken.

    Idempotent: when the key already holds a record written with this ``nonce``, the
    result is OK (a retried request must not fail on its own earlier success). The record
    starts at version 1 with ``seal`` as its MAC.
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
    binding: UserBinding | None = None
    """Set by a login: index the new session under its user."""
    seal: bytes = field(default=b"", repr=False)
    """The MAC of the new record (:mod:`sessionary.sansio.record_auth`)."""
    linger: int = 0
    """Added to the time-to-live, as for :class:`Load`."""
    events: ChangeEvents | None = field(default=None, repr=False)
    """Lifecycle events to write in this change's transaction when it takes effect (OK,
    ``evicted`` from the result): set only for a store that declares
    ``Capability.EVENTS_IN_TRANSACTION`` and is its manager's event sink; others get ``None``."""


@dataclass(slots=True)
class Update:
    """Write a new state of an existing session record, atomically and conditionally.

    A store must refuse with GONE when the record no longer exists, is a tombstone or has
    expired (never recreate it); answer OK without writing when the record was last written
    with this ``nonce`` (an idempotent retry); refuse with LOCK_LOST when ``lock_token`` is
    set and no longer holds the session's lock; and refuse with STALE, returning the
    record as it is now in ``current``, when its version is not ``expect_version`` (another
    request wrote it since this one read it: the core merges and retries).

    Otherwise it deletes ``delete``, writes ``attributes`` and the given metadata, sets the
    digest to ``digest`` (a rotation when it differs), the version to ``expect_version + 1``
    and the MAC to ``seal``, sets ``accessed`` to ``max(accessed, now)`` and the TTL from
    that access time (so a slower concurrent request never shortens it), plus ``linger``.
    """

    key: str
    expect_version: int
    digest: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    now: int
    max_idle: int
    attributes: Mapping[str, bytes] = field(repr=False)
    delete: tuple[str, ...] = ()
    seal: bytes = field(default=b"", repr=False)
    """The MAC of the record as it will be after this write."""
    user: str | None = None
    """New user ID, or ``None`` to leave it unchanged."""
    auth_time: int | None = None
    deadline: int | None = None
    """New absolute deadline (only re-authentication may extend it), or ``None``."""
    binding: UserBinding | None = None
    """Set by a login: index the session under its user."""
    lock_token: bytes | None = field(default=None, repr=False)
    """The fenced lock token this request holds; refuse with LOCK_LOST unless it still does."""
    linger: int = 0
    """Added to the time-to-live, as for :class:`Load`."""
    events: ChangeEvents | None = field(default=None, repr=False)
    """Lifecycle events to write with the change when it takes effect, as for :class:`Create`."""


@dataclass(slots=True)
class Destroy:
    """Delete a session record, but only while its digest is ``digest``.

    When ``user_key`` is set the store also drops the session from that user's index.
    """

    key: str
    digest: bytes = field(repr=False)
    user_key: str | None = None
    events: ChangeEvents | None = field(default=None, repr=False)
    """Lifecycle events to write with the delete when it deletes something, as for
    :class:`Create`."""


@dataclass(slots=True)
class Discard:
    """Delete whatever is stored under ``key``, unconditionally.

    The core asks it for a record it found corrupt or forged (it failed authentication, a
    value did not decode, or the key holds another type): such a record is never served and
    never kept. ``True`` when something was deleted.
    """

    key: str


class CommitStatus(enum.Enum):
    """Outcome of a :class:`Create` or :class:`Update`."""

    OK = "ok"
    GONE = "gone"
    """The record was destroyed or expired meanwhile; nothing was written."""
    STALE = "stale"
    """Update: the record changed since it was read; nothing was written, ``current`` holds it."""
    EXISTS = "exists"
    """Create: the key is taken; nothing was written."""
    LIMIT = "limit"
    """A login would exceed ``max_sessions`` (policy ``reject_new``); nothing was written."""
    LOCK_LOST = "lock_lost"
    """The request's lock expired or was taken over; nothing was written."""


class CommitResult(NamedTuple):
    """Outcome of a :class:`Create` or :class:`Update`.

    ``evicted`` lists the storage keys of sessions a login ended (policy ``evict_oldest``);
    ``current`` is the record as it is now, for STALE.
    """

    status: CommitStatus
    evicted: tuple[str, ...] = ()
    current: StoredSession | None = None


class DestroyResult(NamedTuple):
    """Outcome of a :class:`Destroy`."""

    deleted: bool
    """``False`` when nothing matched (already gone, or another validator)."""


class DiscardResult(NamedTuple):
    """Outcome of a :class:`Discard`."""

    deleted: bool


class PinResult(NamedTuple):
    """Outcome of a ``PinCookie``: the floor the store now holds."""

    floor: int


@dataclass(frozen=True, slots=True)
class ExpiredSession:
    """A session the sweeper found expired: for the ``expired_*`` lifecycle events."""

    key: str
    user: str | None
    status: LoadStatus
    """``EXPIRED_IDLE`` or ``EXPIRED_ABSOLUTE``."""


Operation = Load | Create | Update | Destroy | Discard | ReadCookieState | PinCookie
"""Everything the core may ask the shell to perform."""

Result = LoadResult | CommitResult | DestroyResult | DiscardResult | CookieState | PinResult
"""Everything the shell may answer with (the type of the operation's own result)."""
