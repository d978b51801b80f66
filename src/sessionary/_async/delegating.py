"""A store that hands every operation to another: the base of wrappers (caches, tracers).

``AsyncDelegatingStore`` (the sync module is generated from the asyncio one) forwards every
method of every capability (:mod:`sessionary.stores.base`) to the store it wraps and
declares exactly the wrapped store's capabilities, so a wrapper overrides only what it
changes and loses nothing::

    class CountingStore(AsyncDelegatingStore):
        def __init__(self, inner):
            super().__init__(inner)
            self.loads = 0

        async def load(self, op):
            self.loads += 1
            return await super().load(op)

A method of a capability the wrapped store lacks is never called (the managers look at
:attr:`capabilities` first); called anyway, it fails as the wrapped store would.
"""

from __future__ import annotations

from typing import Any

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
from sessionary.stores.base import Capability, capabilities_of

__all__ = ["AsyncDelegatingStore"]


class AsyncDelegatingStore:
    """Forwards everything to ``inner`` (an asyncio store); subclass to change a part."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        """The wrapped store."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Exactly what the wrapped store declares."""
        return capabilities_of(self.inner)

    # ------------------------------------------------------------------ SESSIONS
    async def load(self, op: Load) -> LoadResult:
        """Forwarded."""
        result: LoadResult = await self.inner.load(op)
        return result

    async def create(self, op: Create) -> CommitResult:
        """Forwarded."""
        result: CommitResult = await self.inner.create(op)
        return result

    async def update(self, op: Update) -> CommitResult:
        """Forwarded."""
        result: CommitResult = await self.inner.update(op)
        return result

    async def destroy(self, op: Destroy) -> bool:
        """Forwarded."""
        return bool(await self.inner.destroy(op))

    async def discard(self, op: Discard) -> bool:
        """Forwarded."""
        return bool(await self.inner.discard(op))

    async def aclose(self) -> None:
        """Forwarded: the wrapped store releases what it owns."""
        await self.inner.aclose()

    # ------------------------------------------------------------------ USER_INDEX
    async def list_user(
        self, user_key: str, now: int, max_idle: int
    ) -> list[tuple[str, RecordMeta]]:
        """Forwarded."""
        result: list[tuple[str, RecordMeta]] = await self.inner.list_user(user_key, now, max_idle)
        return result

    async def revoke_user(
        self, user_key: str, now: int, keep: str | None = None, *, sessions_end_by: int
    ) -> int:
        """Forwarded."""
        return int(
            await self.inner.revoke_user(user_key, now, keep, sessions_end_by=sessions_end_by)
        )

    async def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Forwarded."""
        return bool(await self.inner.end_session(user_key, key, reason))

    async def user_epoch(self, user_key: str) -> int | None:
        """Forwarded."""
        epoch: int | None = await self.inner.user_epoch(user_key)
        return epoch

    # ------------------------------------------------------------------ EXPIRY_SWEEP
    async def sweep(self, now: int, max_idle: int, limit: int = 500) -> list[ExpiredSession]:
        """Forwarded."""
        result: list[ExpiredSession] = await self.inner.sweep(now, max_idle, limit)
        return result

    # ------------------------------------------------------------------ LOCKS
    async def acquire_lock(self, key: str, token: bytes, ttl_ms: int, digest: bytes) -> bool | None:
        """Forwarded."""
        taken: bool | None = await self.inner.acquire_lock(key, token, ttl_ms, digest)
        return taken

    async def renew_lock(self, key: str, token: bytes, ttl_ms: int) -> bool:
        """Forwarded."""
        return bool(await self.inner.renew_lock(key, token, ttl_ms))

    async def release_lock(self, key: str, token: bytes) -> bool:
        """Forwarded."""
        return bool(await self.inner.release_lock(key, token))

    # ------------------------------------------------------------------ CLOCK
    async def server_time(self) -> int:
        """Forwarded."""
        return int(await self.inner.server_time())

    # ------------------------------------------------------------------ COOKIE_STATES
    async def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """Forwarded."""
        state: CookieState = await self.inner.read_cookie_state(op)
        return state

    async def pin_cookie(self, op: PinCookie) -> int:
        """Forwarded."""
        return int(await self.inner.pin_cookie(op))
