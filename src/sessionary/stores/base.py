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

from sessionary.sansio.ops import CommitResult, Create, Destroy, Load, LoadResult, Update

__all__ = ["AsyncStore", "Store"]


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

    def close(self) -> None:
        """Release connections (only those the store created itself)."""
        ...
