"""The tracking connection's lock: ``AsyncTryLock`` (one event loop) and ``TryLock`` (threads).

The tracking connection is read by whichever request gets there first; the others do not
queue behind it when they only poll (they judge freshness by what was last confirmed). A
request that needs a fresh confirmation waits, at most a given time, for the reader to be
done (:meth:`AsyncTryLock.wait`), then judges by what it confirmed: many requests share one
confirmation. The two flavours differ in kind, so they are a pair of classes side by side
(docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["AsyncTryLock", "TryLock"]


class AsyncTryLock:
    """For one event loop: nothing runs between the check and the set (no ``await``)."""

    def __init__(self) -> None:
        self._held = False
        self._released: asyncio.Event | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free; ``False`` (at once) if it is not."""
        if self._held:
            return False
        self._held = True
        return True

    def release(self) -> None:
        """Give the lock back (and wake whoever waits for that)."""
        self._held = False
        released, self._released = self._released, None
        if released is not None:
            released.set()

    async def wait(self, timeout: float) -> None:
        """Until the lock is free (at most ``timeout`` seconds); does not take it."""
        if not self._held:
            return
        if self._released is None:
            self._released = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), timeout)


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

    def wait(self, timeout: float) -> None:
        """Until the lock is free (at most ``timeout`` seconds); does not take it."""
        if self._lock.acquire(timeout=timeout):
            self._lock.release()
