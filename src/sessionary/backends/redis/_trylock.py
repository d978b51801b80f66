"""A lock that never waits: ``AsyncTryLock`` (one asyncio task) and ``TryLock`` (threads).

The tracking connection is read by whichever request gets there first; the others do not
queue behind it (they judge freshness by what was last confirmed). The two flavours differ
in kind, so they are a pair of classes side by side (docs/architecture.md).
"""

from __future__ import annotations

import threading

__all__ = ["AsyncTryLock", "TryLock"]


class AsyncTryLock:
    """For one event loop: nothing runs between the check and the set (no ``await``)."""

    def __init__(self) -> None:
        self._held = False

    def acquire(self) -> bool:
        """Take the lock if it is free; ``False`` (at once) if it is not."""
        if self._held:
            return False
        self._held = True
        return True

    def release(self) -> None:
        """Give the lock back."""
        self._held = False


class TryLock:
    """For threads: a ``threading.Lock`` taken without blocking."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """Take the lock if it is free; ``False`` (at once) if it is not."""
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        """Give the lock back."""
        self._lock.release()
