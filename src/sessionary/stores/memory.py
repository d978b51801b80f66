"""The in-process session engine behind ``MemoryStore`` and ``AsyncMemoryStore``.

A bounded LRU map with per-record time-to-live, guarded by one lock so it is safe across
threads and asyncio tasks (operations never await while holding it). It implements the
operation contract of :mod:`sessionary.sansio.ops` exactly as the Redis Lua scripts do, and
passes the same contract suite.

It holds sessions of *one process*: with several workers each has its own map, so a user
bouncing between workers loses the session. The engine warns once when it finds itself in
a forked child; use ``RedisStore`` for more than one worker.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sessionary.sansio.expiry import effective_idle, expiry_status, ttl_ms
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    Load,
    LoadResult,
    LoadStatus,
    RecordMeta,
    StoredSession,
    Update,
)

__all__ = ["DEFAULT_MAX_ENTRIES", "MemoryEngine"]

logger = logging.getLogger("sessionary")

DEFAULT_MAX_ENTRIES = 10_000

_forks = 0
"""How many times this process image has been forked into a child (see ``_check_process``)."""


def _after_fork_in_child() -> None:
    global _forks  # noqa: PLW0603 - process-wide fork counter, touched only at fork time
    _forks += 1


os.register_at_fork(after_in_child=_after_fork_in_child)
_OK = CommitResult(CommitStatus.OK)
_GONE = CommitResult(CommitStatus.GONE)
_ROTATED = CommitResult(CommitStatus.ROTATED)
_EXISTS = CommitResult(CommitStatus.EXISTS)
_MISSING = LoadResult(LoadStatus.MISSING)
_INVALID = LoadResult(LoadStatus.INVALID)


@dataclass(slots=True)
class _Record:
    attributes: dict[str, bytes]
    created: int
    accessed: int
    idle: int
    deadline: int
    digest: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    version: int = 1
    user: str | None = None
    auth_time: int | None = None
    gc_at: int = 0
    """When the record may be dropped (the Redis TTL's twin)."""
    meta: RecordMeta | None = None
    """Cached metadata snapshot; reset to ``None`` whenever a field above changes."""

    def snapshot(self, *, touched: bool) -> StoredSession:
        # ``attributes`` is replaced, never mutated (copy-on-write in update), so handing the
        # dict out without copying is safe.
        meta = self.meta
        if meta is None:
            meta = self.meta = RecordMeta(
                created=self.created,
                accessed=self.accessed,
                idle=self.idle,
                deadline=self.deadline,
                digest=self.digest,
                version=self.version,
                user=self.user,
                auth_time=self.auth_time,
            )
        return StoredSession(self.attributes, meta, touched)


class MemoryEngine:
    """Thread-safe, bounded, TTL-aware implementation of the store operations."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries <= 0:
            msg = "max_entries must be positive"
            raise ValueError(msg)
        self.max_entries = max_entries
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()
        self._forks = _forks
        self._warned = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def _check_process(self) -> None:
        # A counter bumped by an at-fork hook: no system call on the request path.
        if _forks != self._forks and not self._warned:
            self._warned = True
            logger.warning(
                "sessionary: MemoryStore used in a forked worker; sessions are per process and "
                "not shared between workers. Use RedisStore for more than one worker."
            )

    def _live(self, key: str, now: int) -> _Record | None:
        record = self._records.get(key)
        if record is not None and record.gc_at < now:
            del self._records[key]  # lazy expiry (the TTL is only a garbage collector)
            return None
        return record

    def load(self, op: Load) -> LoadResult:
        """Perform a :class:`~sessionary.sansio.ops.Load`."""
        self._check_process()
        now = op.now
        with self._lock:
            record = self._live(op.key, now)
            if record is None:
                return _MISSING
            if not hmac.compare_digest(record.digest, op.digest):
                return _INVALID
            # The arithmetic of sansio.expiry, inlined on this hot path.
            idle = min(record.idle, op.max_idle)
            if now >= record.deadline:
                del self._records[op.key]
                return LoadResult(LoadStatus.EXPIRED_ABSOLUTE)
            accessed = record.accessed
            if now >= accessed + idle:
                del self._records[op.key]
                return LoadResult(LoadStatus.EXPIRED_IDLE)
            touched = now - accessed >= op.touch_after
            if touched:
                record.meta = None
                record.accessed = now
                record.gc_at = now + ttl_ms(
                    now=now, accessed=now, idle=idle, deadline=record.deadline
                )
            self._records.move_to_end(op.key)
            return LoadResult(LoadStatus.FOUND, record.snapshot(touched=touched))

    def create(self, op: Create) -> CommitResult:
        """Perform a :class:`~sessionary.sansio.ops.Create`."""
        self._check_process()
        with self._lock:
            existing = self._live(op.key, op.now)
            if existing is not None:
                return _OK if existing.nonce == op.nonce else _EXISTS
            record = _Record(
                attributes=dict(op.attributes),
                created=op.now,
                accessed=op.now,
                idle=op.idle,
                deadline=op.deadline,
                digest=op.digest,
                nonce=op.nonce,
                user=op.user,
                auth_time=op.auth_time,
            )
            record.gc_at = op.now + ttl_ms(
                now=op.now, accessed=op.now, idle=op.idle, deadline=op.deadline
            )
            self._records[op.key] = record
            while len(self._records) > self.max_entries:
                self._evict_one(op.now)
            return _OK

    def _evict_one(self, now: int) -> None:
        # Expired records go first; otherwise the least recently used one.
        for key, record in self._records.items():
            if record.gc_at < now:
                del self._records[key]
                return
        self._records.popitem(last=False)

    def update(self, op: Update) -> CommitResult:
        """Perform an :class:`~sessionary.sansio.ops.Update`."""
        self._check_process()
        with self._lock:
            record = self._live(op.key, op.now)
            if record is None:
                return _GONE
            if record.nonce == op.nonce:
                return _OK
            if not hmac.compare_digest(record.digest, op.expect_digest):
                return _ROTATED
            idle = effective_idle(record.idle, op.max_idle)
            status = expiry_status(
                now=op.now, accessed=record.accessed, idle=idle, deadline=record.deadline
            )
            if status is not LoadStatus.FOUND:
                del self._records[op.key]
                return _GONE
            current = record.attributes
            conflicts = tuple(
                name for name, value in op.expected.items() if current.get(name) != value
            )
            if conflicts and op.strict:
                return CommitResult(CommitStatus.CONFLICT, conflicts)
            attributes = dict(current)  # copy-on-write: snapshots handed out stay unchanged
            for name in op.delete:
                attributes.pop(name, None)
            attributes.update(op.attributes)
            record.attributes = attributes
            record.meta = None
            record.digest = op.digest
            record.nonce = op.nonce
            record.version += 1
            record.accessed = max(record.accessed, op.now)
            if op.user is not None:
                record.user = op.user
            if op.auth_time is not None:
                record.auth_time = op.auth_time
            if op.deadline is not None:
                record.deadline = op.deadline
            record.gc_at = op.now + ttl_ms(
                now=op.now, accessed=record.accessed, idle=idle, deadline=record.deadline
            )
            self._records.move_to_end(op.key)
            return CommitResult(CommitStatus.OK, conflicts)

    def destroy(self, op: Destroy) -> bool:
        """Perform a :class:`~sessionary.sansio.ops.Destroy`."""
        self._check_process()
        with self._lock:
            record = self._records.get(op.key)
            if record is None or not hmac.compare_digest(record.digest, op.digest):
                return False
            del self._records[op.key]
            return True

    def purge_expired(self, now_ms: int) -> int:
        """Drop every record whose time-to-live has passed; return how many (R37)."""
        with self._lock:
            dead = [key for key, record in self._records.items() if record.gc_at < now_ms]
            for key in dead:
                del self._records[key]
            return len(dead)

    def clear(self) -> None:
        """Drop every record."""
        with self._lock:
            self._records.clear()
