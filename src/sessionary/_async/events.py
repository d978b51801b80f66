"""Where lifecycle events go: the sink protocol and an in-process event log.

The Redis Stream sink is :class:`sessionary.stores.AsyncRedisEventStream`.

The manager publishes every lifecycle event of a request (created, rotated, destroyed,
revoked, evicted, invalid-id…) after the request's commit; the sweeper publishes the
``expired_*`` events. Consumers read them with a consumer group (each event handled by one
consumer of the group, acknowledged when done) or follow the stream (``sessionary events
tail``). Entries are trimmed to about ``maxlen`` (``XADD MAXLEN ~``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from sessionary.sansio.events import SessionEvent

__all__ = ["DEFAULT_MAXLEN", "AsyncEventSink", "AsyncMemoryEventLog", "StreamEntry"]

DEFAULT_MAXLEN = 1_000_000

StreamEntry = tuple[str, SessionEvent]
"""A stream entry: its ID (``"<ms>-<seq>"``) and the event."""


@runtime_checkable
class AsyncEventSink(Protocol):
    """Where the manager and the sweeper publish lifecycle events."""

    async def publish(self, events: Sequence[SessionEvent]) -> None:
        """Append events (in order)."""
        ...


class AsyncMemoryEventLog:
    """The in-process twin of :class:`AsyncRedisEventStream` (MemoryStore deployments)."""

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        self.maxlen = maxlen
        self._entries: list[StreamEntry] = []
        self._seq = 0
        self._lock = threading.Lock()

    async def publish(self, events: Sequence[SessionEvent]) -> None:
        """Append events."""
        with self._lock:
            for event in events:
                self._seq += 1
                self._entries.append((f"{event.at}-{self._seq}", event))
            del self._entries[: max(0, len(self._entries) - self.maxlen)]

    async def read(self, after: str = "0", *, count: int = 100) -> list[StreamEntry]:
        """Entries after ``after`` (an entry ID, or ``"0"`` for all)."""
        with self._lock:
            seq = int(after.rpartition("-")[2]) if "-" in after else 0
            return [e for e in self._entries if int(e[0].rpartition("-")[2]) > seq][:count]

    async def length(self) -> int:
        """How many entries are held."""
        with self._lock:
            return len(self._entries)
