"""Stores that fail on demand, around a real memory store, for adapter error paths."""

from __future__ import annotations

from sessionary.exceptions import StoreConflictError, StoreUnavailableError
from sessionary.sansio.ops import (
    CommitResult,
    Create,
    Destroy,
    Discard,
    Load,
    LoadResult,
    Update,
)
from sessionary.stores import AsyncMemoryStore, MemoryStore
from sessionary.stores.base import Capability


class FailingStore:
    """Async: loads go to a memory store; chosen operations fail or report a conflict."""

    capabilities = frozenset({Capability.SESSIONS})

    def __init__(
        self, fail_load: bool = False, fail_commit: bool = False, conflict: bool = False
    ) -> None:
        self.inner = AsyncMemoryStore()
        self.fail_load = fail_load
        self.fail_commit = fail_commit
        self.conflict = conflict

    async def load(self, op: Load) -> LoadResult:
        if self.fail_load:
            raise StoreUnavailableError("down")
        return await self.inner.load(op)

    async def create(self, op: Create) -> CommitResult:
        if self.fail_commit:
            raise StoreUnavailableError("down")
        return await self.inner.create(op)

    async def update(self, op: Update) -> CommitResult:
        if self.fail_commit:
            raise StoreUnavailableError("down")
        if self.conflict:  # as the core raises it for a conflict under the raise policy
            raise StoreConflictError(tuple(op.attributes))
        return await self.inner.update(op)

    async def destroy(self, op: Destroy) -> bool:
        return await self.inner.destroy(op)

    async def discard(self, op: Discard) -> bool:
        return await self.inner.discard(op)

    async def aclose(self) -> None:
        pass


class SyncFailingStore:
    """Sync twin of :class:`FailingStore` (flags set by the test)."""

    capabilities = frozenset({Capability.SESSIONS})

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.fail_commit = False
        self.conflict = False

    def load(self, op: Load) -> LoadResult:
        return self.inner.load(op)

    def create(self, op: Create) -> CommitResult:
        if self.fail_commit:
            raise StoreUnavailableError("down")
        return self.inner.create(op)

    def update(self, op: Update) -> CommitResult:
        if self.fail_commit:
            raise StoreUnavailableError("down")
        if self.conflict:  # as the core raises it for a conflict under the raise policy
            raise StoreConflictError(tuple(op.attributes))
        return self.inner.update(op)

    def destroy(self, op: Destroy) -> bool:
        return self.inner.destroy(op)

    def discard(self, op: Discard) -> bool:
        return self.inner.discard(op)

    def close(self) -> None:
        pass
