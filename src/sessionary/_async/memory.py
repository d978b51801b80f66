"""In-process session store: ``AsyncMemoryStore`` (the sync module is generated).

Both twins wrap the same :class:`~sessionary.stores.memory.MemoryEngine`; the engine never
awaits while it holds its lock, so one engine may even be shared by sync and async code.
"""

from __future__ import annotations

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
from sessionary.stores.base import Capability
from sessionary.stores.memory import DEFAULT_MAX_ENTRIES, MemoryEngine

__all__ = ["AsyncMemoryStore"]


class AsyncMemoryStore:
    """Sessions in this process's memory: bounded LRU with TTL. One worker only.

    The default for development, tests and single-process deployments.
    """

    capabilities = frozenset(
        {
            Capability.SESSIONS,
            Capability.USER_INDEX,
            Capability.EXPIRY_SWEEP,
            Capability.LOCKS,
            Capability.COOKIE_STATES,
        }
    )
    """What the memory store can do (everything but a clock of its own)."""

    def __init__(
        self, *, max_entries: int = DEFAULT_MAX_ENTRIES, engine: MemoryEngine | None = None
    ) -> None:
        self.engine = engine if engine is not None else MemoryEngine(max_entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(entries={len(self.engine)}/{self.engine.max_entries})"

    async def load(self, op: Load) -> LoadResult:
        """Read, verify and touch a session."""
        return self.engine.load(op)

    async def create(self, op: Create) -> CommitResult:
        """Create a session record."""
        return self.engine.create(op)

    async def update(self, op: Update) -> CommitResult:
        """Apply a conditional delta."""
        return self.engine.update(op)

    async def destroy(self, op: Destroy) -> bool:
        """Delete a session if its digest matches."""
        return self.engine.destroy(op)

    async def discard(self, op: Discard) -> bool:
        """Delete whatever is stored under the key (the core found it corrupt)."""
        return self.engine.discard(op)

    async def list_user(
        self, user_key: str, now: int, max_idle: int
    ) -> list[tuple[str, RecordMeta]]:
        """The user's live sessions (storage key, metadata), oldest first."""
        return self.engine.list_user(user_key, now, max_idle)

    async def revoke_user(
        self, user_key: str, now: int, keep: str | None = None, *, sessions_end_by: int
    ) -> int:
        """End every session of the user but ``keep``; returns how many were ended.

        The engine keeps epochs in memory (``sessions_end_by`` is for stores that expire them).
        """
        del sessions_end_by
        return self.engine.revoke_user(user_key, now, keep)

    async def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Tombstone one session of the user: its next request learns ``reason``."""
        return self.engine.end_session(user_key, key, reason)

    async def user_epoch(self, user_key: str) -> int | None:
        """The user's epoch (time of the last ``revoke_user``), if any."""
        return self.engine.user_epoch(user_key)

    async def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """A sealed cookie session's floor and, for an authenticated one, its user's epoch."""
        return self.engine.read_cookie_state(op)

    async def pin_cookie(self, op: PinCookie) -> int:
        """Raise a sealed cookie session's floor (never lower it); returns the floor held."""
        return self.engine.pin_cookie(op)

    async def acquire_lock(self, key: str, token: bytes, ttl_ms: int, digest: bytes) -> bool | None:
        """Take the session's lock unless another live token holds it.

        ``None`` when no session with this validator ``digest`` exists (nothing to lock).
        """
        return self.engine.acquire_lock(key, token, ttl_ms, digest)

    async def renew_lock(self, key: str, token: bytes, ttl_ms: int) -> bool:
        """Extend the lease while this token still holds the lock."""
        return self.engine.renew_lock(key, token, ttl_ms)

    async def release_lock(self, key: str, token: bytes) -> bool:
        """Release the lock if this token holds it."""
        return self.engine.release_lock(key, token)

    async def sweep(self, now: int, max_idle: int, limit: int = 500) -> list[ExpiredSession]:
        """Drop expired records and report each once (``max_idle``/``limit`` as for Redis)."""
        del max_idle, limit  # the engine judges each record by its own idle timeout
        return self.engine.sweep(now)

    async def purge_expired(self, now_ms: int) -> int:
        """Drop expired records (for a scheduled job); returns how many were dropped."""
        return self.engine.purge_expired(now_ms)

    async def aclose(self) -> None:
        """Nothing to release."""
