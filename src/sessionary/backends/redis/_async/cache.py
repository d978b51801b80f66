"""A local cache in front of a Redis store, kept coherent by the server.

``AsyncCachingStore`` (asyncio; ``CachingStore`` is its generated twin) wraps an
:class:`~sessionary.stores.AsyncRedisStore` (standalone, Sentinel or Cluster: one tracking
connection per primary) and answers loads of hot sessions from memory, with no round
trip. The rules (docs/cache.md explains them):

* **What is cached:** the records the server returned on a load (``FOUND``), by storage
  key, in a bounded LRU (entries and bytes). The core verifies a cached record exactly as
  a fresh one (validator, record MAC, revocation, both expiry clocks).
* **Coherence from the server:** an :class:`AsyncTracker` connection receives an
  ``invalidate`` message for every change of a session hash or a user's epoch, by any
  instance; the entry (or all of the user's entries) is dropped when it is read.
* **Staleness bound:** an entry is served only while the tracking stream has been
  confirmed read up to at most ``staleness_ms`` ago; an older confirmation is first
  renewed (one ping, shared by the loads meanwhile), and if the renewal too comes back
  later than the bound, the load goes to the server.
  A logout, a revocation or a "log out everywhere" done anywhere is therefore seen here
  within that bound, and typically within one loopback round trip.
* **Failures:** a lost tracking connection (restart, failover, timeout) flushes the whole
  cache, and nothing is served until tracking is established and confirmed again.
* **Writes** always go to the server (conflicts are detected there); this instance's own
  writes also drop the entry at once, so it reads its own writes. A create or update then
  reads its record back on the tracking connection, ordered after every invalidation the
  write caused and before any later one, and caches it (docs/cache.md explains why that,
  and not the first invalidation seen, is safe).
* **Sliding expiry:** a cached read never touches; when the touch is due
  (``touch_after``), the load goes to the server, which touches as it always does. A
  session read on many instances is thus touched once per touch interval, not per read.

Each event loop that uses the cache gets its own tracking connection (closed when the loop
shuts down); when loads move to another loop, the cache is flushed first.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sessionary._async.delegating import AsyncDelegatingStore
from sessionary.backends.redis._async.store import AsyncRedisStore
from sessionary.backends.redis._async.tracking import (
    AsyncClusterTracker,
    AsyncTracker,
    async_tracking_connection,
)
from sessionary.backends.redis._loops import AsyncLoopClients
from sessionary.backends.redis._lru import RecordLRU
from sessionary.backends.redis._reads import ReadStep, judge_read
from sessionary.exceptions import ConfigurationError
from sessionary.observability import CACHE_OPERATION, NullObserver, Observer
from sessionary.sansio.expiry import effective_idle, expiry_status, touch_due
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    Discard,
    Load,
    LoadResult,
    LoadStatus,
    StoredSession,
    Update,
)

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_ENTRIES", "DEFAULT_STALENESS_MS", "AsyncCachingStore"]

DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_STALENESS_MS = 5

_NEVER = 1 << 62
"""A touch interval no read-back reaches: the record was just written, a load decides."""

Tracking = AsyncTracker | AsyncClusterTracker
"""A standalone (or Sentinel-managed) server's stream, or a Cluster's streams as one."""


class AsyncCachingStore(AsyncDelegatingStore):
    """Serves hot loads from memory; everything else is the wrapped Redis store's.

    ``max_entries`` / ``max_bytes``: the LRU's bounds. ``staleness_ms``: the longest time a
    change made elsewhere may go unseen here (see the module). ``observer``: receives
    ``operation("cache", seconds, outcome)`` with outcome ``hit``, ``miss``,
    ``miss_touch`` (a touch was due), ``bypass`` (tracking not confirmed), ``recovered``
    (served again after bypassing), ``evicted``, ``invalidated`` and ``flush_<cause>``;
    ``seconds`` is the age of the stream's last confirmation for a ``hit`` (how stale the
    answer may be) and, for ``bypass`` and ``recovered``, the time spent bypassing since
    the previous report (their sum over a period is how long the cache could not serve).
    :attr:`stats` counts the outcomes, :attr:`bypass_seconds` adds up the latter. ``clock``: the
    monotonic clock the bound is measured with (tests move it). ``connect``: makes the
    tracking connection (by default a RESP3 connection to the wrapped store's server, with
    its address, credentials and TLS). ``confirm``: a load whose entry is usable but whose
    stream confirmation is older than the bound first confirms the stream (one ping on the
    tracking connection, shared by the loads meanwhile; outcome ``confirm``) instead of
    bypassing; ``False``: it bypasses. ``fill_on_commit``: after this instance's own create
    or update, the record is read back on the tracking connection and cached (outcome
    ``filled``), so the next load is a hit (not on a Cluster).
    """

    def __init__(
        self,
        inner: AsyncRedisStore,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        staleness_ms: float = DEFAULT_STALENESS_MS,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        connect: Callable[[], Any] | None = None,
        confirm: bool = True,
        fill_on_commit: bool = True,
    ) -> None:
        super().__init__(inner)
        if not isinstance(inner, AsyncRedisStore):
            msg = "AsyncCachingStore wraps an AsyncRedisStore"
            raise ConfigurationError(msg)
        if max_entries < 1 or max_bytes < 1 or staleness_ms < 0:
            msg = "max_entries and max_bytes must be positive, staleness_ms not negative"
            raise ConfigurationError(msg)
        self.staleness_s = staleness_ms / 1000
        self.observer: Observer = observer if observer is not None else NullObserver()
        self.stats: dict[str, int] = {}
        """Counts by outcome (the observer's ``outcome`` values)."""
        self.bypass_seconds = 0.0
        """Time spent bypassing the cache (tracking not confirmed within the bound)."""
        self._bypass_mark: float | None = None
        self._clock = clock
        self._confirm = confirm
        self._fill_on_commit = fill_on_commit
        self._lru = RecordLRU(max_entries, max_bytes, on_evict=self._evicted)
        prefix = inner.layout.prefix
        self._session_prefix = f"{prefix}:s:{{".encode()
        self._epoch_prefix = f"{prefix}:u:{{".encode()
        self._prefixes = (f"{prefix}:s:", f"{prefix}:u:")
        self._connect = connect or (lambda: async_tracking_connection(inner.client))
        self._cluster = bool(getattr(inner, "_cluster", False))
        self._trackers: AsyncLoopClients[Tracking] = AsyncLoopClients(
            self._new_tracker, cluster=False, close=_close_tracker
        )
        self._in_use: Tracking | None = None

    def _new_tracker(self) -> Tracking:
        if self._cluster:  # one stream per primary
            inner = self.inner
            return AsyncClusterTracker(
                lambda: inner.client,
                self._prefixes,
                self,
                ping_after_s=self.staleness_s / 2,
                clock=self._clock,
            )
        return AsyncTracker(
            self._connect,
            self._prefixes,
            self,
            ping_after_s=self.staleness_s / 2,
            clock=self._clock,
        )

    @property
    def tracker(self) -> Tracking:
        """The invalidation stream of the running event loop (one per loop)."""
        return self._trackers()

    def _tracker(self) -> Tracking:
        """The running loop's tracker, for a load: moving to another loop flushes."""
        tracker = self._trackers()
        if tracker is not self._in_use:
            # Another loop's connection may have missed changes this one saw, or the reverse.
            if self._in_use is not None:
                self.flush("loop")
            self._in_use = tracker
        return tracker

    def __len__(self) -> int:
        return len(self._lru)

    # ------------------------------------------------------------------ reporting
    def _count(self, outcome: str, n: int = 1, seconds: float = 0.0) -> None:
        self.stats[outcome] = self.stats.get(outcome, 0) + n
        try:
            for _ in range(n):
                self.observer.operation(CACHE_OPERATION, seconds, outcome)
        except Exception:  # an observer must never break a request
            self.observer = NullObserver()

    def _bypassing(self, now: float, outcome: str) -> None:
        """Report the time bypassed since the last report (``bypass``, ``recovered``)."""
        mark, self._bypass_mark = self._bypass_mark, (now if outcome == "bypass" else None)
        seconds = 0.0 if mark is None else max(0.0, now - mark)
        self.bypass_seconds += seconds
        self._count(outcome, seconds=seconds)

    def _evicted(self, count: int) -> None:
        self._count("evicted", count)

    # ------------------------------------------------------------------ the sink
    def invalidated(self, keys: list[bytes]) -> None:
        """Drop the entries of changed sessions, or of every session of a changed epoch."""
        dropped = 0
        for raw in keys:
            if raw.startswith(self._session_prefix) and raw.endswith(b"}"):
                key = raw[len(self._session_prefix) : -1].decode("ascii", "replace")
                dropped += self._lru.invalidate(key, remote=True)
            elif raw.startswith(self._epoch_prefix) and raw.endswith(b"}:ep"):
                tag = raw[len(self._epoch_prefix) : -4].decode("utf-8", "surrogateescape")
                dropped += self._lru.invalidate_user(tag, remote=True)
        if dropped:
            self._count("invalidated", dropped)

    def flush(self, cause: str) -> None:
        """Forget everything (the tracking stream was lost, or the server was flushed)."""
        self._lru.clear()
        self._count(f"flush_{cause}")

    # ------------------------------------------------------------------ reads
    async def load(self, op: Load) -> LoadResult:
        """From memory when fresh, verified and no touch is due; otherwise from Redis."""
        tracker = self._tracker()
        await tracker.poll()
        record, outcome = self._cached(op)
        now, confirmed = self._clock(), tracker.confirmed_at
        if (
            record is not None
            and self._confirm
            and confirmed is not None
            and now - confirmed > self.staleness_s
        ):
            # The entry is usable but the stream's last confirmation is older than the
            # bound: confirm it now (one ping, shared by every load meanwhile) rather than
            # load from Redis. A round trip either way, but this one lets the loads that
            # follow within the bound be answered from memory again.
            self._count("confirm")
            await tracker.confirm(now)
            now, confirmed = self._clock(), tracker.confirmed_at
        if confirmed is None or now - confirmed > self.staleness_s:
            self._bypassing(now, "bypass")
            return await self._fetch(op)
        if self._bypass_mark is not None:
            self._bypassing(now, "recovered")
        if record is None:
            self._count(outcome)
            return await self._fetch(op)
        self._count("hit", seconds=now - confirmed)
        return LoadResult(LoadStatus.FOUND, record)

    def _cached(self, op: Load) -> tuple[StoredSession | None, str]:
        """The entry a load may be answered with, or ``None`` and why not."""
        record = self._lru.get(op.key)
        if record is None or not hmac.compare_digest(record.meta.digest, op.digest):
            return None, "miss"
        meta = record.meta
        idle = effective_idle(meta.idle, op.max_idle)
        if (
            expiry_status(now=op.now, accessed=meta.accessed, idle=idle, deadline=meta.deadline)
            is not LoadStatus.FOUND
        ):
            return None, "miss"  # the server deletes it and says why
        if touch_due(now=op.now, accessed=meta.accessed, touch_after=op.touch_after):
            return None, "miss_touch"
        return record, "hit"

    async def _fetch(self, op: Load) -> LoadResult:
        tracker = self._tracker()
        generation = tracker.generation if tracker.tracking else None
        self._lru.begin(op.key)
        try:
            result = await super().load(op)
        finally:
            clean = self._lru.end(op.key)
        record = result.record
        if (
            clean
            and record is not None
            and result.status is LoadStatus.FOUND
            and generation is not None
            and tracker is self._in_use
            and generation == tracker.generation
        ):
            self._lru.put(op.key, _untouched(record))
        return result

    # ------------------------------------------------------------------ writes
    async def create(self, op: Create) -> CommitResult:
        """Forwarded; the key's entry is dropped, then filled with the new record."""
        try:
            result = await super().create(op)
        finally:
            self._lru.invalidate(op.key)
        if result.status is CommitStatus.OK:
            tag = op.binding.user_key if op.binding is not None else None
            await self._fill(op.key, Load(op.key, op.digest, op.now, op.idle, _NEVER), 1, tag)
        return result

    async def update(self, op: Update) -> CommitResult:
        """Forwarded; the entry is dropped (read your own write), then filled anew."""
        try:
            result = await super().update(op)
        finally:
            self._lru.invalidate(op.key)
        if result.status is CommitStatus.OK:
            binding = op.binding
            tag = binding.user_key if binding is not None else self.inner.user_tag(op.key)
            probe = Load(op.key, op.digest, op.now, op.max_idle, _NEVER)
            await self._fill(op.key, probe, op.expect_version + 1, tag)
        return result

    async def _fill(self, key: str, probe: Load, version: int, tag: str | None) -> None:
        """Read the record this instance just wrote back on the tracking connection; cache it.

        The read (``HGETALL``, with the user's epoch ``GET``, in one ``MULTI``) goes out on
        the tracking connection after the write's reply came back, so every invalidation
        sent before its reply (this write's own included) is already read when it arrives,
        and every later change's comes after it (and drops the entry): the entry is what a
        load at that instant returns, judged as a load judges it. A later write of the key
        by this instance, or a flush, in between keeps it out (docs/cache.md).
        """
        tracker = self._in_use
        if not self._fill_on_commit or not isinstance(tracker, AsyncTracker):
            return
        if not tracker.tracking or tracker is not self._trackers():
            return
        layout = self.inner.layout
        commands: list[tuple[Any, ...]] = [("MULTI",), ("HGETALL", layout.session_key(key))]
        if tag is not None:
            commands.append(("GET", layout.user_epoch_key(tag)))
        commands.append(("EXEC",))
        ticket = self._lru.expect(key)
        tracker.follow(commands, partial(self._filled, probe, version, tag, ticket))
        await tracker.send_pending()

    def _filled(self, probe: Load, version: int, tag: str | None, ticket: int, reply: Any) -> None:
        """The read-back's answer (``EXEC``'s): cache it if it is what this instance wrote."""
        record = None
        if isinstance(reply, list) and reply and not isinstance(reply[0], Exception):
            epoch = reply[1] if len(reply) > 1 and not isinstance(reply[1], Exception) else None
            result, step = judge_read(reply[0], probe, tag, epoch)
            found = result.record
            if (
                step is ReadStep.DONE
                and found is not None
                and found.meta.version == version
                and (found.meta.user_key is None or found.meta.user_key == tag)
            ):
                record = found
        if self._lru.fill(probe.key, ticket, record):
            self._count("filled")

    async def destroy(self, op: Destroy) -> bool:
        """Forwarded; the key's entry is dropped."""
        try:
            return await super().destroy(op)
        finally:
            self._lru.invalidate(op.key)

    async def discard(self, op: Discard) -> bool:
        """Forwarded; the key's entry is dropped."""
        try:
            return await super().discard(op)
        finally:
            self._lru.invalidate(op.key)

    async def revoke_user(
        self, user_key: str, now: int, keep: str | None = None, *, sessions_end_by: int
    ) -> int:
        """Forwarded; every entry of the user is dropped."""
        try:
            return await super().revoke_user(user_key, now, keep, sessions_end_by=sessions_end_by)
        finally:
            self._lru.invalidate_user(user_key)

    async def end_session(self, user_key: str, key: str, reason: str) -> bool:
        """Forwarded; the key's entry is dropped."""
        try:
            return await super().end_session(user_key, key, reason)
        finally:
            self._lru.invalidate(key)

    async def aclose(self) -> None:
        """Close the tracking connections, then the wrapped store."""
        await self.stop_tracking()
        await super().aclose()

    async def stop_tracking(self) -> None:
        """Close the tracking connections and forget everything (a later load reopens)."""
        self._lru.clear()
        self._in_use = None
        await self._trackers.aclose()


async def _close_tracker(tracker: Tracking) -> None:
    await tracker.aclose()


def _untouched(record: StoredSession) -> StoredSession:
    return record if not record.touched else record._replace(touched=False)
