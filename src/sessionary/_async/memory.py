"""In-process session store: ``AsyncMemoryStore`` (asyncio) and its generated twin ``MemoryStore``.

Both twins wrap the same :class:`~sessionary.stores.memory.MemoryEngine`; the engine never
awaits while it holds its lock, so one engine may even be shared by sync and async code.
"""

from __future__ import annotations

from sessionary.sansio.ops import CommitResult, Create, Destroy, Load, LoadResult, Update
from sessionary.stores.memory import DEFAULT_MAX_ENTRIES, MemoryEngine

__all__ = ["AsyncMemoryStore"]


class AsyncMemoryStore:
    """Sessions in this process's memory: bounded LRU with TTL. One worker only.

    The default for development, tests and single-process deployments.
    """

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

    async def purge_expired(self, now_ms: int) -> int:
        """Drop expired records (for a scheduled job); returns how many were dropped."""
        return self.engine.purge_expired(now_ms)

    async def aclose(self) -> None:
        """Nothing to release."""
