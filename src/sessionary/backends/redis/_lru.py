"""The local cache's memory: a bounded LRU of verified session records (no I/O).

Entries are keyed by storage key (a keyed hash, never a raw session ID) and bounded both in
number and in bytes (an estimate: attribute names and values, plus a fixed overhead). The
LRU also tracks which keys are being loaded right now, so that an invalidation arriving
while a load is in flight keeps that load's (possibly older) answer out of the cache, and
which keys belong to which user, so that a change of a user's epoch ("log out
everywhere") evicts all of that user's sessions at once. And it remembers which keys wait
for a record this instance wrote to be read back (:meth:`RecordLRU.expect`): a later write
of the key by this instance (:meth:`RecordLRU.invalidate`), a change of the user's epoch
made here, or a flush, keeps that record out; an invalidation from the server does not
(the read-back is ordered after it on the same connection: docs/cache.md).

It is shared by the threads of a sync application: every method takes one lock and does no
I/O while holding it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from sessionary.sansio.ops import StoredSession

__all__ = ["ENTRY_OVERHEAD", "InvalidationSink", "RecordLRU", "record_size"]

ENTRY_OVERHEAD = 256
"""Bytes counted per entry beyond its attributes (the record's metadata, dict slots)."""


class InvalidationSink(Protocol):
    """What the tracker tells: keys changed on the server, or everything must go."""

    def invalidated(self, keys: list[bytes]) -> None:
        """These keys changed (or expired, or were deleted) on the server."""

    def flush(self, cause: str) -> None:
        """Forget everything.

        ``cause``: ``disconnect``, ``unanswered``, ``server_flush`` or ``error``.
        """


def record_size(key: str, record: StoredSession) -> int:
    """The bytes an entry is counted for: key, attribute names and values, overhead."""
    size = ENTRY_OVERHEAD + len(key)
    for name, value in record.attributes.items():
        size += len(name) + len(value)
    return size


class RecordLRU:
    """Verified records by storage key, least recently used first out.

    ``on_evict`` is called (outside the lock, with the number of entries) when the bounds
    push entries out.
    """

    def __init__(
        self, max_entries: int, max_bytes: int, on_evict: Callable[[int], None] | None = None
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._on_evict = on_evict
        self._entries: OrderedDict[str, tuple[StoredSession, int]] = OrderedDict()
        self._by_user: dict[str, set[str]] = {}
        self._bytes = 0
        self._loading: dict[str, int] = {}
        self._poisoned: set[str] = set()
        self._expected: dict[str, int] = {}  # key -> ticket of the read-back it waits for
        self._tickets = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """The bytes the entries are counted for."""
        return self._bytes

    def get(self, key: str) -> StoredSession | None:
        """The record under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    # ------------------------------------------------------------------ loads in flight
    def begin(self, key: str) -> None:
        """A load of ``key`` is about to be sent to the server."""
        with self._lock:
            self._loading[key] = self._loading.get(key, 0) + 1

    def end(self, key: str) -> bool:
        """That load came back: ``True`` when its answer may be cached.

        ``False`` when ``key`` was invalidated (or everything flushed) while it was in flight.
        """
        with self._lock:
            clean = key not in self._poisoned
            left = self._loading.get(key, 1) - 1
            if left <= 0:
                self._loading.pop(key, None)
                self._poisoned.discard(key)
            else:
                self._loading[key] = left
            return clean

    # ------------------------------------------------------------------ changes
    def put(self, key: str, record: StoredSession) -> None:
        """Cache ``record`` under ``key``; push out the least recently used beyond the bounds."""
        size = record_size(key, record)
        if size > self.max_bytes:
            return
        pushed = 0
        with self._lock:
            self._drop(key)
            self._entries[key] = (record, size)
            self._bytes += size
            user_key = record.meta.user_key
            if user_key is not None:
                self._by_user.setdefault(user_key, set()).add(key)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                oldest = next(iter(self._entries))
                self._drop(oldest)
                pushed += 1
        if pushed and self._on_evict is not None:
            self._on_evict(pushed)

    # ------------------------------------------------------------------ read-backs
    def expect(self, key: str) -> int:
        """This instance wrote ``key`` and reads it back: the ticket :meth:`fill` needs."""
        with self._lock:
            self._tickets += 1
            self._expected[key] = self._tickets
            return self._tickets

    def fill(self, key: str, ticket: int, record: StoredSession | None) -> bool:
        """The read-back ``ticket`` answered ``record`` (``None``: not to be cached).

        Cached only while nothing here changed ``key`` since :meth:`expect` gave ``ticket``;
        ``True`` if it was.
        """
        with self._lock:
            if self._expected.get(key) != ticket:
                return False
            del self._expected[key]
        if record is None:
            return False
        self.put(key, record)
        return True

    # ------------------------------------------------------------------ invalidations
    def invalidate(self, key: str, *, remote: bool = False) -> bool:
        """Forget ``key`` (and keep a load of it in flight out); ``True`` if it was cached.

        A change made here (``remote`` false) also keeps out a read-back ``key`` waits for.
        """
        with self._lock:
            if key in self._loading:
                self._poisoned.add(key)
            if not remote:
                self._expected.pop(key, None)
            return self._drop(key)

    def invalidate_user(self, user_key: str, *, remote: bool = False) -> int:
        """Forget every session of ``user_key`` and keep every load in flight out.

        A change made here (``remote`` false) also keeps out every read-back in flight.
        """
        with self._lock:
            self._poisoned.update(self._loading)
            if not remote:
                self._expected.clear()
            keys = list(self._by_user.get(user_key, ()))
            for key in keys:
                self._drop(key)
            return len(keys)

    def clear(self) -> int:
        """Forget everything (and keep every load in flight out); the number forgotten."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._by_user.clear()
            self._bytes = 0
            self._poisoned.update(self._loading)
            self._expected.clear()
            return count

    def _drop(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        record, size = entry
        self._bytes -= size
        user_key = record.meta.user_key
        if user_key is not None:
            keys = self._by_user.get(user_key)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_user[user_key]
        return True
