"""Store protocols: what the I/O shell needs from a session store, sync and async.

A store performs the core's operations (:mod:`sessionary.sansio.ops`) atomically and
reports the outcome; it never sees a raw session ID or a :class:`~sessionary.Session`.
Every store — in memory, Redis, SQL — must pass the shared contract suite in
``tests/_async/test_store_contract.py`` (and its generated sync twin).

Driver errors never escape a store: they are mapped to
:class:`~sessionary.exceptions.StoreUnavailableError`,
:class:`~sessionary.exceptions.StoreTimeoutError` or
:class:`~sessionary.exceptions.StoreError`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
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
    "AsyncCookieStateStore",
    "AsyncLockingStore",
    "AsyncStore",
    "AsyncUserStore",
    "ClockSource",
    "CookieStateStore",
    "LockingStore",
    "Store",
    "UserStore",
]


@runtime_checkable
class AsyncStore(Protocol):
    """An asyncio session store."""

    async def load(self, op: Load) -> LoadResult:
        """Read, verify and (when due) touch a session; see :class:`~sessionary.sansio.ops.Load`."""
        ...

    async def create(self, op: Create) -> CommitResult:
        """Create a session record; see :class:`~sessionary.sansio.ops.Create`."""
        ...

    async def update(self, op: Update) -> CommitResult:
        """Apply a conditional delta; see :class:`~sessionary.sansio.ops.Update`."""
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


@runtime_checkable
class Store(Protocol):
    """A synchronous session store (the same contract as :class:`AsyncStore`)."""

    def load(self, op: Load) -> LoadResult:
        """Read, verify and (when due) touch a session; see :class:`~sessionary.sansio.ops.Load`."""
        ...

    def create(self, op: Create) -> CommitResult:
        """Create a session record; see :class:`~sessionary.sansio.ops.Create`."""
        ...

    def update(self, op: Update) -> CommitResult:
        """Apply a conditional delta; see :class:`~sessionary.sansio.ops.Update`."""
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


@runtime_checkable
class AsyncUserStore(Protocol):
    """A store that keeps per-user indexes: device lists, ``revoke_user``, limits, sweeping.

    User keys are index tags computed by the core (never raw user IDs in key names);
    storage keys are keyed hashes (never raw session IDs).
    """

    async def list_user(
        self, user_key: str, now: int, max_idle: int
    ) -> list[tuple[str, RecordMeta]]:
        """The user's live sessions (storage key, metadata), oldest first; prunes the index."""
        ...

    async def revoke_user(
        self, user_key: str, now: int, keep: str | None = None, *, horizon: int | None = None
    ) -> int:
        """Move the user's epoch to ``now`` and end their sessions but ``keep``.

        ``horizon``: how long (ms) the epoch must be kept (the absolute timeout).
        """
        ...

    async def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Tombstone one session of the user (it then loads as ENDED with ``reason``)."""
        ...

    async def user_epoch(self, user_key: str) -> int | None:
        """The user's epoch, if any."""
        ...

    async def sweep(self, now: int, max_idle: int, limit: int = 500) -> list[ExpiredSession]:
        """Report expired sessions, each exactly once across concurrent sweepers."""
        ...


@runtime_checkable
class AsyncLockingStore(Protocol):
    """A store offering the opt-in fenced per-session lock."""

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


@runtime_checkable
class UserStore(Protocol):
    """The synchronous twin of :class:`AsyncUserStore`."""

    def list_user(self, user_key: str, now: int, max_idle: int) -> list[tuple[str, RecordMeta]]:
        """The user's live sessions (storage key, metadata), oldest first; prunes the index."""
        ...

    def revoke_user(
        self, user_key: str, now: int, keep: str | None = None, *, horizon: int | None = None
    ) -> int:
        """Move the user's epoch to ``now`` and end their sessions but ``keep``.

        ``horizon``: how long (ms) the epoch must be kept (the absolute timeout).
        """
        ...

    def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Tombstone one session of the user (it then loads as ENDED with ``reason``)."""
        ...

    def user_epoch(self, user_key: str) -> int | None:
        """The user's epoch, if any."""
        ...

    def sweep(self, now: int, max_idle: int, limit: int = 500) -> list[ExpiredSession]:
        """Report expired sessions, each exactly once across concurrent sweepers."""
        ...


@runtime_checkable
class LockingStore(Protocol):
    """The synchronous twin of :class:`AsyncLockingStore`."""

    def acquire_lock(self, key: str, token: bytes, ttl_ms: int, digest: bytes) -> bool | None:
        """Take the lock unless another token holds it.

        ``None`` when no session with this validator ``digest`` exists (nothing to lock).
        """
        ...

    def renew_lock(self, key: str, token: bytes, ttl_ms: int) -> bool:
        """Extend the lease while ``token`` holds the lock."""
        ...

    def release_lock(self, key: str, token: bytes) -> bool:
        """Release the lock if ``token`` holds it."""
        ...


@runtime_checkable
class AsyncClockSource(Protocol):
    """A store with a clock of its own: the one authority every node judges expiry by."""

    async def server_time(self) -> int:
        """The store's current time, in milliseconds since the epoch."""
        ...


@runtime_checkable
class ClockSource(Protocol):
    """The synchronous twin of :class:`AsyncClockSource`."""

    def server_time(self) -> int:
        """The store's current time, in milliseconds since the epoch."""
        ...


@runtime_checkable
class AsyncCookieStateStore(Protocol):
    """A store keeping sealed cookie sessions' floors (``CookieStore(revocation=...)``).

    See :mod:`sessionary.sansio.cookie_state`. Keys are hashes computed by the core.
    """

    async def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """The session's floor and, for ``op.user_key``, the user's epoch (one round trip)."""
        ...

    async def pin_cookie(self, op: PinCookie) -> int:
        """Raise the session's floor to at least ``op.floor``; the floor now held."""
        ...


@runtime_checkable
class CookieStateStore(Protocol):
    """The synchronous twin of :class:`AsyncCookieStateStore`."""

    def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """The session's floor and, for ``op.user_key``, the user's epoch (one round trip)."""
        ...

    def pin_cookie(self, op: PinCookie) -> int:
        """Raise the session's floor to at least ``op.floor``; the floor now held."""
        ...
