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
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
from sessionary.sansio.expiry import effective_idle, expiry_status, ttl_ms
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    Discard,
    ExpiredSession,
    Load,
    LoadResult,
    LoadStatus,
    RecordMeta,
    StoredSession,
    Update,
    UserBinding,
)
from sessionary.sansio.users import is_live_session_of, next_epoch, sessions_to_evict

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
_EXISTS = CommitResult(CommitStatus.EXISTS)
_MISSING = LoadResult(LoadStatus.MISSING)
_INVALID = LoadResult(LoadStatus.INVALID)
_LIMIT = CommitResult(CommitStatus.LIMIT)
_LOCK_LOST = CommitResult(CommitStatus.LOCK_LOST)


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
    user_key: str | None = None
    stamp: int | None = None
    device: bytes | None = None
    seal: bytes = field(default=b"", repr=False)
    ended: str | None = None
    """Why the session was ended (``revoke_session``, eviction): a tombstone until it expires."""
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
                user_key=self.user_key,
                stamp=self.stamp,
                device=self.device,
                seal=self.seal,
            )
        return StoredSession(self.attributes, meta, touched)

    def bind(self, binding: UserBinding) -> None:
        self.meta = None
        self.user_key = binding.user_key
        self.stamp = binding.stamp
        if binding.device is not None:
            self.device = binding.device


class MemoryEngine:
    """Thread-safe, bounded, TTL-aware implementation of the store operations."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries <= 0:
            msg = "max_entries must be positive"
            raise ValueError(msg)
        self.max_entries = max_entries
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._index: dict[str, dict[str, int]] = {}
        """user key → {storage key: absolute deadline}: the per-user index."""
        self._epochs: dict[str, int] = {}
        self._locks: dict[str, tuple[bytes, float]] = {}
        """storage key → (token, monotonic expiry): the opt-in per-session locks."""
        self._floors: dict[str, tuple[int, int]] = {}
        """cookie key → (floor, drop time): sealed cookie sessions' floors."""
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
            if record.ended is not None:
                return LoadResult(LoadStatus.ENDED, reason=record.ended)
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
                record.gc_at = (
                    now + ttl_ms(now=now, accessed=now, idle=idle, deadline=record.deadline)
                ) + op.linger
            self._records.move_to_end(op.key)
            snapshot = record.snapshot(touched=touched)
            if record.user_key is not None:
                snapshot = snapshot._replace(user_epoch=self._epochs.get(record.user_key))
            return LoadResult(LoadStatus.FOUND, snapshot)

    def create(self, op: Create) -> CommitResult:
        """Perform a :class:`~sessionary.sansio.ops.Create`."""
        self._check_process()
        with self._lock:
            existing = self._live(op.key, op.now)
            if existing is not None:
                return _OK if existing.nonce == op.nonce else _EXISTS
            evicted = self._admit(op.key, op.binding, op.now, op.idle)
            if evicted is None:
                return _LIMIT
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
                seal=op.seal,
            )
            record.gc_at = (
                op.now + ttl_ms(now=op.now, accessed=op.now, idle=op.idle, deadline=op.deadline)
            ) + op.linger
            self._index_login(op.key, record, op.binding)
            self._records[op.key] = record
            while len(self._records) > self.max_entries:
                self._evict_one(op.now)
            return CommitResult(CommitStatus.OK, evicted=evicted) if evicted else _OK

    def _evict_one(self, now: int) -> None:
        # Expired records (and tombstones) go first, then the least recently used anonymous
        # session: a flood of anonymous visitors never pushes out a signed-in user.
        anonymous: str | None = None
        for key, record in self._records.items():
            if record.gc_at < now or record.ended is not None:
                del self._records[key]
                return
            if anonymous is None and record.user is None:
                anonymous = key
        if anonymous is not None:
            del self._records[anonymous]
            return
        self._records.popitem(last=False)

    def _refuse_update(self, record: _Record | None, op: Update) -> CommitResult | None:
        """The guards of an update, in the Lua script's order (caller holds the lock)."""
        if record is None or record.ended is not None:
            return _GONE
        if record.nonce == op.nonce:
            return _OK
        if op.lock_token is not None and not self._holds(op.key, op.lock_token):
            return _LOCK_LOST
        status = expiry_status(
            now=op.now,
            accessed=record.accessed,
            idle=effective_idle(record.idle, op.max_idle),
            deadline=record.deadline,
        )
        if status is not LoadStatus.FOUND:
            del self._records[op.key]
            return _GONE
        if record.version != op.expect_version:
            return CommitResult(CommitStatus.STALE, current=record.snapshot(touched=False))
        return None

    def update(self, op: Update) -> CommitResult:
        """Perform an :class:`~sessionary.sansio.ops.Update`."""
        self._check_process()
        with self._lock:
            record = self._live(op.key, op.now)
            refusal = self._refuse_update(record, op)
            if refusal is not None:
                return refusal
            assert record is not None
            idle = effective_idle(record.idle, op.max_idle)
            evicted = self._admit(op.key, op.binding, op.now, idle)
            if evicted is None:
                return _LIMIT
            self._index_login(op.key, record, op.binding)
            attributes = dict(record.attributes)  # copy-on-write: snapshots stay unchanged
            for name in op.delete:
                attributes.pop(name, None)
            attributes.update(op.attributes)
            record.attributes = attributes
            record.meta = None
            record.digest = op.digest
            record.nonce = op.nonce
            record.seal = op.seal
            record.version = op.expect_version + 1
            record.accessed = max(record.accessed, op.now)
            if op.user is not None:
                record.user = op.user
            if op.auth_time is not None:
                record.auth_time = op.auth_time
            if op.deadline is not None:
                record.deadline = op.deadline
            record.gc_at = (
                op.now
                + ttl_ms(now=op.now, accessed=record.accessed, idle=idle, deadline=record.deadline)
            ) + op.linger
            self._records.move_to_end(op.key)
            return CommitResult(CommitStatus.OK, evicted) if evicted else _OK

    def destroy(self, op: Destroy) -> bool:
        """Perform a :class:`~sessionary.sansio.ops.Destroy`."""
        self._check_process()
        with self._lock:
            record = self._records.get(op.key)
            if record is None or not hmac.compare_digest(record.digest, op.digest):
                return False
            del self._records[op.key]
            if op.user_key is not None:
                self._index.get(op.user_key, {}).pop(op.key, None)
            return True

    def discard(self, op: Discard) -> bool:
        """Perform a :class:`~sessionary.sansio.ops.Discard` (the core found it corrupt)."""
        with self._lock:
            record = self._records.pop(op.key, None)
            if record is not None and record.user_key is not None:
                self._index.get(record.user_key, {}).pop(op.key, None)
            return record is not None

    # ------------------------------------------------------------------ users
    def _alive_for(self, user_key: str, key: str, now: int, max_idle: int) -> _Record | None:
        """The indexed record if it still is a live session of this user (caller holds lock)."""
        record = self._live(key, now)
        if record is None or record.ended is not None:
            return None
        meta = record.snapshot(touched=False).meta
        epoch = self._epochs.get(user_key)
        if not is_live_session_of(meta, user_key, now=now, max_idle=max_idle, epoch=epoch):
            return None
        return record

    def _pruned(self, user_key: str, now: int, max_idle: int) -> dict[str, int]:
        """The user's index without dead entries (self-healing; caller holds the lock)."""
        index = self._index.get(user_key)
        if not index:
            return {}
        for key in [k for k in index if self._alive_for(user_key, k, now, max_idle) is None]:
            del index[key]
        if not index:
            del self._index[user_key]
        return index

    def _admit(
        self, key: str, binding: UserBinding | None, now: int, max_idle: int
    ) -> tuple[str, ...] | None:
        """Apply the session limit for a login; ``None`` means refuse (caller holds lock)."""
        if binding is None or binding.max_sessions is None:
            return ()
        index = self._pruned(binding.user_key, now, max_idle)
        victims = sessions_to_evict(((s, k) for k, s in index.items() if k != key), binding)
        for victim in victims or ():
            self._end(binding.user_key, victim, "evicted")
        return victims

    def _index_login(self, key: str, record: _Record, binding: UserBinding | None) -> None:
        """Record a login's binding and index the session under its user (caller holds lock)."""
        if binding is not None:
            record.bind(binding)
            self._index.setdefault(binding.user_key, {})[key] = binding.deadline

    def _end(self, user_key: str, key: str, reason: str) -> bool:
        index = self._index.get(user_key)
        if index is not None:
            index.pop(key, None)
        record = self._records.get(key)
        if record is None or record.user_key != user_key or record.ended is not None:
            return False
        record.ended = reason
        record.attributes = {}
        record.meta = None
        return True

    def list_user(self, user_key: str, now: int, max_idle: int) -> list[tuple[str, RecordMeta]]:
        """The user's live sessions (storage key, metadata), pruning dead index entries."""
        with self._lock:
            index = self._pruned(user_key, now, max_idle)
            out = []
            for key in sorted(index, key=index.__getitem__):
                record = self._records[key]
                out.append((key, record.snapshot(touched=False).meta))
            return out

    def revoke_user(self, user_key: str, now: int, keep: str | None = None) -> int:
        """End every session of the user except ``keep``; returns how many were ended.

        The ended sessions become tombstones, so their next request learns the reason.
        """
        with self._lock:
            kept = self._alive_for(user_key, keep, now, 1 << 62) if keep is not None else None
            if kept is not None:
                kept.stamp = now + 1
                kept.meta = None
            self._epochs[user_key] = next_epoch(self._epochs.get(user_key), now)
            index = self._index.pop(user_key, {})
            ended = 0
            for key in index:
                if key != keep or kept is None:
                    ended += self._end(user_key, key, "revoked")
            if kept is not None and keep is not None:
                self._index[user_key] = {keep: index.get(keep, kept.deadline)}
            return ended

    def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Tombstone one session of the user (it loads as ENDED with ``reason``)."""
        with self._lock:
            return self._end(user_key, key, reason)

    def user_epoch(self, user_key: str) -> int | None:
        """The user's epoch (time of the last ``revoke_user``), if any."""
        with self._lock:
            return self._epochs.get(user_key)

    # ------------------------------------------------------------------ sealed cookie floors
    def _floor(self, cookie_key: str, now: int) -> tuple[int, int] | None:
        held = self._floors.get(cookie_key)
        if held is not None and held[1] < now:
            del self._floors[cookie_key]  # its time passed: every cookie it refused expired
            return None
        return held

    def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """A sealed cookie session's floor and, for an authenticated one, its user's epoch."""
        with self._lock:
            held = self._floor(op.cookie_key, op.now)
            epoch = None if op.user_key is None else self._epochs.get(op.user_key)
        return CookieState(None if held is None else held[0], epoch)

    def pin_cookie(self, op: PinCookie) -> int:
        """Raise a sealed cookie session's floor (never lower it); returns the floor held."""
        with self._lock:
            floor, drop = op.floor, op.now + op.ttl_ms
            held = self._floor(op.cookie_key, op.now)
            if held is not None:
                floor, drop = max(floor, held[0]), max(drop, held[1])
            self._floors[op.cookie_key] = (floor, drop)
            if len(self._floors) > self.max_entries:  # drop the floors whose time passed
                for key in [k for k, (_, at) in self._floors.items() if at < op.now]:
                    del self._floors[key]
            return floor

    # ------------------------------------------------------------------ locks
    def _holds(self, key: str, token: bytes) -> bool:
        held = self._locks.get(key)
        return held is not None and held[0] == token and held[1] > time.monotonic()

    def acquire_lock(self, key: str, token: bytes, ttl_ms: int, digest: bytes) -> bool | None:
        """Take the lock of a session unless another live token holds it.

        ``None`` when no live record with this validator ``digest`` exists: a stale or
        stolen ID holds no lock.
        """
        with self._lock:
            record = self._records.get(key)
            if record is None or not hmac.compare_digest(record.digest, digest):
                return None
            held = self._locks.get(key)
            if held is not None and held[1] > time.monotonic():
                return False
            self._locks[key] = (token, time.monotonic() + ttl_ms / 1000)
            return True

    def renew_lock(self, key: str, token: bytes, ttl_ms: int) -> bool:
        """Extend the lease of a lock this token still holds."""
        with self._lock:
            if not self._holds(key, token):
                return False
            self._locks[key] = (token, time.monotonic() + ttl_ms / 1000)
            return True

    def release_lock(self, key: str, token: bytes) -> bool:
        """Release the lock if this token holds it (compare-and-delete)."""
        with self._lock:
            held = self._locks.get(key)
            if held is None or held[0] != token:
                return False
            del self._locks[key]
            return True

    # ------------------------------------------------------------------ expiry
    def sweep(self, now_ms: int) -> list[ExpiredSession]:
        """Report every expired record once (for ``expired_*`` events) and empty it.

        An expired record becomes a tombstone holding its end reason until its lingering
        time ends, so a client returning late still learns why (``end_reason``). Tombstones
        (revoked, evicted or already swept sessions) are not reported again.
        """
        with self._lock:
            out = []
            for key, record in list(self._records.items()):
                if record.ended is not None:
                    continue
                status = expiry_status(
                    now=now_ms,
                    accessed=record.accessed,
                    idle=record.idle,
                    deadline=record.deadline,
                )
                if status is LoadStatus.FOUND:
                    continue
                if record.user_key is not None:
                    self._index.get(record.user_key, {}).pop(key, None)
                out.append(ExpiredSession(key, record.user, status))
                if record.gc_at < now_ms:
                    del self._records[key]  # past its lingering time too: nothing to tell
                    continue
                record.ended = status.value
                record.attributes = {}
                record.meta = None
            return out

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
