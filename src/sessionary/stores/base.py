"""Store protocols: what the I/O shell needs from a session store, capability by capability.

A store performs the core's operations (:mod:`sessionary.sansio.ops`) atomically and
reports the outcome; it never sees a raw session ID or a :class:`~sessionary.Session`. What
else it can do it *declares*, in its ``capabilities`` (a frozenset of :class:`Capability`):
the managers and the sweeper look a capability up there, never at method names, and a
wrapper (:class:`~sessionary.stores.AsyncDelegatingStore`) declares what it wraps.

==================  ============================  =============================================
capability          protocol (async / sync)       what for
==================  ============================  =============================================
``SESSIONS``        ``AsyncSessionStore``         load, create, update, destroy, discard
``USER_INDEX``      ``AsyncUserIndex``            device lists, ``revoke_user``, session limits
``EXPIRY_SWEEP``    ``AsyncExpirySweep``          ``expired_*`` events (the sweeper)
``LOCKS``           ``AsyncSessionLocks``         the opt-in per-session lock
``CLOCK``           ``AsyncClockSource``          the one clock expiry is judged by (R38)
``COOKIE_STATES``   ``AsyncCookieStates``         a ``CookieStore``'s revocation store
==================  ============================  =============================================

``EVENTS_IN_TRANSACTION`` (``AsyncEventsInTransaction``; the store is also an event sink):
the store writes the lifecycle events a change carries in the change's transaction.

Every store — in memory, Redis, SQL — must pass the shared contract suite in
``tests/_async/test_store_contract.py`` (and its generated sync twin), and the suites of the
capabilities it declares. Driver errors never escape a store: they are mapped to
:class:`~sessionary.exceptions.StoreUnavailableError`,
:class:`~sessionary.exceptions.StoreTimeoutError` or
:class:`~sessionary.exceptions.StoreError`. Results are fresh immutable values.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
from sessionary.sansio.events import ChangeEvents, SessionEvent
from sessionary.sansio.ops import (
    CommitResult,
    Create,
    Destroy,
    Discard,
    ExpiredSession,
    Load,
    LoadResult,
    RecordMeta,
    Update,
)

__all__ = [
    "AsyncClockSource",
    "AsyncCookieStates",
    "AsyncEventsInTransaction",
    "AsyncExpirySweep",
    "AsyncSessionLocks",
    "AsyncSessionStore",
    "AsyncUserIndex",
    "Capability",
    "ClockSource",
    "CookieStates",
    "EventsInTransaction",
    "ExpirySweep",
    "SessionLocks",
    "SessionStore",
    "UserIndex",
    "capabilities_of",
]


class Capability(enum.Enum):
    """What a store can do, beyond nothing (see the module table)."""

    SESSIONS = "sessions"
    USER_INDEX = "user_index"
    EXPIRY_SWEEP = "expiry_sweep"
    LOCKS = "locks"
    CLOCK = "clock"
    COOKIE_STATES = "cookie_states"
    EVENTS_IN_TRANSACTION = "events_in_transaction"
    """The store writes the lifecycle events a change carries (``Create.events``...) in the
    change's own transaction, and is an event sink (``publish``): pass it as its manager's
    ``events=`` and a request's events commit with its change, or not at all."""


def capabilities_of(store: object) -> frozenset[Capability]:
    """The capabilities ``store`` declares (none for an object that declares nothing)."""
    declared: object = getattr(store, "capabilities", None)
    return declared if isinstance(declared, frozenset) else frozenset()


class _Declares(Protocol):
    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this store can do."""
        ...


# ---------------------------------------------------------------------------------- asyncio
class AsyncSessionStore(_Declares, Protocol):
    """An asyncio session store (capability ``SESSIONS``)."""

    async def load(self, op: Load) -> LoadResult:
        """Read, verify and (when due) touch a session; see :class:`~sessionary.sansio.ops.Load`."""
        ...

    async def create(self, op: Create) -> CommitResult:
        """Create a session record; see :class:`~sessionary.sansio.ops.Create`."""
        ...

    async def update(self, op: Update) -> CommitResult:
        """Write a new state conditionally; see :class:`~sessionary.sansio.ops.Update`."""
        ...

    async def destroy(self, op: Destroy) -> bool:
        """Delete a record if its digest matches; ``True`` when something was deleted."""
        ...

    async def discard(self, op: Discard) -> bool:
        """Delete whatever is under the key (corrupt or forged); see :class:`Discard`."""
        ...

    async def aclose(self) -> None:
        """Release connections (only those the store created itself)."""
        ...


class AsyncUserIndex(Protocol):
    """Per-user indexes (capability ``USER_INDEX``): device lists, revocation, limits.

    User keys are index tags computed by the core (never raw user IDs in key names);
    storage keys are keyed hashes (never raw session IDs).
    """

    async def list_user(
        self, user_key: str, now: int, max_idle: int
    ) -> list[tuple[str, RecordMeta]]:
        """The user's live sessions (storage key, metadata), oldest first; prunes the index."""
        ...

    async def revoke_user(
        self, user_key: str, now: int, keep: str | None = None, *, sessions_end_by: int
    ) -> int:
        """Move the user's epoch to ``now`` and end their sessions but ``keep``.

        ``sessions_end_by``: no session stamped before ``now`` lives past this time (its
        absolute deadline), so the store may forget the epoch after it.
        """
        ...

    async def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Tombstone one session of the user (it then loads as ENDED with ``reason``)."""
        ...

    async def user_epoch(self, user_key: str) -> int | None:
        """The user's epoch, if any."""
        ...


class AsyncEventsInTransaction(Protocol):
    """A store that writes a change's events with it (capability ``EVENTS_IN_TRANSACTION``).

    Besides the ``events`` a :class:`~sessionary.sansio.ops.Create`, ``Update`` or
    ``Destroy`` carries, its user-level changes take theirs: written in the change's
    transaction when it takes effect (:class:`~sessionary.sansio.events.ChangeEvents`).
    """

    async def publish(self, events: Sequence[SessionEvent]) -> None:
        """Append events that belong to no change (an event sink)."""
        ...

    async def revoke_user(
        self,
        user_key: str,
        now: int,
        keep: str | None = None,
        *,
        sessions_end_by: int,
        events: ChangeEvents | None = None,
    ) -> int:
        """As :meth:`AsyncUserIndex.revoke_user`, writing ``events.taken(ended=...)`` with it."""
        ...

    async def end_session(
        self, user_key: str, key: str, reason: str, *, events: ChangeEvents | None = None
    ) -> bool:
        """As :meth:`AsyncUserIndex.end_session`, writing ``events`` when a session ended."""
        ...

    async def sweep(
        self, now: int, max_idle: int, limit: int = 500, *, record_events: bool = False
    ) -> list[ExpiredSession]:
        """As :meth:`AsyncExpirySweep.sweep`, writing the events of what it ended when asked.

        ``record_events``: their ``expired_*`` events
        (:func:`~sessionary.sansio.expiry.swept_events`) in the same transaction.
        """
        ...


class AsyncExpirySweep(Protocol):
    """Reports expired sessions (capability ``EXPIRY_SWEEP``)."""

    async def sweep(self, now: int, max_idle: int, limit: int = 500) -> list[ExpiredSession]:
        """Report sessions expired by ``now``, each once across concurrent sweepers.

        They are emptied into tombstones; at most about ``limit`` per call.
        """
        ...


class AsyncSessionLocks(Protocol):
    """The opt-in fenced per-session lock (capability ``LOCKS``)."""

    async def acquire_lock(self, key: str, token: bytes, ttl_ms: int, digest: bytes) -> bool | None:
        """Take the lock unless another token holds it.

        ``None`` when no session with this validator ``digest`` exists (nothing to lock).
        """
        ...

    async def renew_lock(self, key: str, token: bytes, ttl_ms: int) -> bool:
        """Extend the lease while ``token`` holds the lock."""
        ...

    async def release_lock(self, key: str, token: bytes) -> bool:
        """Release the lock if ``token`` holds it."""
        ...


class AsyncClockSource(Protocol):
    """A store with a clock of its own (capability ``CLOCK``): the one authority (R38)."""

    async def server_time(self) -> int:
        """The store's current time, in milliseconds since the epoch."""
        ...


class AsyncCookieStates(Protocol):
    """Sealed cookie sessions' floors (capability ``COOKIE_STATES``; a revocation store).

    See :mod:`sessionary.sansio.cookie_state`. Keys are hashes computed by the core.
    """

    async def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """The session's floor and, for ``op.user_key``, the user's epoch (one round trip)."""
        ...

    async def pin_cookie(self, op: PinCookie) -> int:
        """Raise the session's floor to at least ``op.floor``; the floor now held."""
        ...


# ---------------------------------------------------------------------------------- sync
class SessionStore(_Declares, Protocol):
    """A synchronous session store: the twin of :class:`AsyncSessionStore`."""

    def load(self, op: Load) -> LoadResult:
        """Read, verify and (when due) touch a session; see :class:`~sessionary.sansio.ops.Load`."""
        ...

    def create(self, op: Create) -> CommitResult:
        """Create a session record; see :class:`~sessionary.sansio.ops.Create`."""
        ...

    def update(self, op: Update) -> CommitResult:
        """Write a new state conditionally; see :class:`~sessionary.sansio.ops.Update`."""
        ...

    def destroy(self, op: Destroy) -> bool:
        """Delete a record if its digest matches; ``True`` when something was deleted."""
        ...

    def discard(self, op: Discard) -> bool:
        """Delete whatever is under the key (corrupt or forged); see :class:`Discard`."""
        ...

    def close(self) -> None:
        """Release connections (only those the store created itself)."""
        ...


class UserIndex(Protocol):
    """The synchronous twin of :class:`AsyncUserIndex`."""

    def list_user(self, user_key: str, now: int, max_idle: int) -> list[tuple[str, RecordMeta]]:
        """The user's live sessions (storage key, metadata), oldest first; prunes the index."""
        ...

    def revoke_user(
        self, user_key: str, now: int, keep: str | None = None, *, sessions_end_by: int
    ) -> int:
        """Move the user's epoch to ``now`` and end their sessions but ``keep``."""
        ...

    def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Tombstone one session of the user (it then loads as ENDED with ``reason``)."""
        ...

    def user_epoch(self, user_key: str) -> int | None:
        """The user's epoch, if any."""
        ...


class ExpirySweep(Protocol):
    """The synchronous twin of :class:`AsyncExpirySweep`."""

    def sweep(self, now: int, max_idle: int, limit: int = 500) -> list[ExpiredSession]:
        """Report sessions expired by ``now``, each exactly once; empty them."""
        ...


class SessionLocks(Protocol):
    """The synchronous twin of :class:`AsyncSessionLocks`."""

    def acquire_lock(self, key: str, token: bytes, ttl_ms: int, digest: bytes) -> bool | None:
        """Take the lock unless another token holds it (``None``: no such session)."""
        ...

    def renew_lock(self, key: str, token: bytes, ttl_ms: int) -> bool:
        """Extend the lease while ``token`` holds the lock."""
        ...

    def release_lock(self, key: str, token: bytes) -> bool:
        """Release the lock if ``token`` holds it."""
        ...


class ClockSource(Protocol):
    """The synchronous twin of :class:`AsyncClockSource`."""

    def server_time(self) -> int:
        """The store's current time, in milliseconds since the epoch."""
        ...


class EventsInTransaction(Protocol):
    """The synchronous twin of :class:`AsyncEventsInTransaction`."""

    def publish(self, events: Sequence[SessionEvent]) -> None:
        """Append events that belong to no change (an event sink)."""
        ...

    def revoke_user(
        self,
        user_key: str,
        now: int,
        keep: str | None = None,
        *,
        sessions_end_by: int,
        events: ChangeEvents | None = None,
    ) -> int:
        """As :meth:`UserIndex.revoke_user`, writing ``events.taken(ended=...)`` with it."""
        ...

    def end_session(
        self, user_key: str, key: str, reason: str, *, events: ChangeEvents | None = None
    ) -> bool:
        """As :meth:`UserIndex.end_session`, writing ``events`` when a session ended."""
        ...

    def sweep(
        self, now: int, max_idle: int, limit: int = 500, *, record_events: bool = False
    ) -> list[ExpiredSession]:
        """As :meth:`ExpirySweep.sweep`, writing the events of what it ended when asked.

        ``record_events``: their ``expired_*`` events
        (:func:`~sessionary.sansio.expiry.swept_events`) in the same transaction.
        """
        ...


class CookieStates(Protocol):
    """The synchronous twin of :class:`AsyncCookieStates`."""

    def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """The session's floor and, for ``op.user_key``, the user's epoch (one round trip)."""
        ...

    def pin_cookie(self, op: PinCookie) -> int:
        """Raise the session's floor to at least ``op.floor``; the floor now held."""
        ...
