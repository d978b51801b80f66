"""``AsyncAuditMover``: lifecycle events from the Redis stream into the SQL audit table.

The request path only appends to the Redis stream (``XADD``); the mover writes the audit
trail behind it, in batches, into ``sessionary_events``. Delivery is at least once with no
duplicate rows: entries are read through a consumer group (several movers share the
stream), inserted with their stream entry ID as the row's unique key (inserting an entry
again adds nothing), and acknowledged (``XACK``) only once the insert committed. When the
database is down the insert fails, the batch stays pending in the group, and the next step
inserts it again before reading anything new; a mover that died leaves its pending entries
to the others, which claim them once idle for ``claim_idle_ms`` (``XAUTOCLAIM``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import ResponseError

from sessionary._async.events import StreamEntry
from sessionary.audit._lag import AuditLag, group_lag
from sessionary.backends.redis import AsyncRedisEventStream, AsyncRedisStore, mapped_redis_errors
from sessionary.backends.sql import AsyncSQLStore
from sessionary.exceptions import StoreError
from sessionary.sansio.events import decode_event

__all__ = ["DEFAULT_GROUP", "AsyncAuditMover"]

DEFAULT_GROUP = "sessionary-audit"
"""The consumer group the movers share unless told otherwise."""


def _default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class AsyncAuditMover:
    """Moves lifecycle events from a Redis stream into a SQL store's ``sessionary_events``.

    ``source``: the Redis store whose stream (``<prefix>:events``) the manager publishes to;
    ``target``: the SQL store holding the audit table (its tenant is the rows' tenant).
    ``group``: the consumer group (created at the stream's start unless it exists);
    ``consumer``: this mover's name in it (host and process by default); ``batch``: entries
    per step; ``claim_idle_ms``: when another consumer's unacknowledged entries count as
    abandoned and are claimed.

    >>> mover = AsyncAuditMover(redis_store, sql_store)  # doctest: +SKIP
    >>> await mover.run(duration_s=60)  # doctest: +SKIP
    """

    def __init__(
        self,
        source: AsyncRedisStore,
        target: AsyncSQLStore,
        *,
        prefix: str | None = None,
        group: str = DEFAULT_GROUP,
        consumer: str | None = None,
        batch: int = 500,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.stream = AsyncRedisEventStream(source, prefix=prefix)
        self._source = source
        self.target = target
        self.group = group
        self.consumer = consumer or _default_consumer()
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.moved = 0
        """Entries inserted and acknowledged by this mover so far."""
        self._grouped = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.stream.key!r} -> {self.target!r}, {self.group!r})"

    async def _ensure_group(self) -> None:
        if not self._grouped:
            await self.stream.ensure_group(self.group)
            self._grouped = True

    async def _pending(self) -> tuple[list[StreamEntry], list[str]]:
        """This consumer's delivered, unacknowledged entries (a failed batch, to insert again)."""
        with mapped_redis_errors("reading pending events"):
            reply = await self._source.client.xreadgroup(
                self.group, self.consumer, {self.stream.key: "0"}, count=self.batch
            )
        return _parsed(_stream_entries(reply))

    async def _claimed(self) -> tuple[list[StreamEntry], list[str]]:
        """Entries another consumer left unacknowledged for ``claim_idle_ms`` (it died)."""
        with mapped_redis_errors("claiming events"):
            reply = await self._source.client.xautoclaim(
                self.stream.key,
                self.group,
                self.consumer,
                self.claim_idle_ms,
                start_id="0-0",
                count=self.batch,
            )
        claimed = reply[1] if isinstance(reply, (list, tuple)) and len(reply) > 1 else []
        return _parsed(claimed)

    async def _new(self, block_ms: int | None) -> tuple[list[StreamEntry], list[str]]:
        with mapped_redis_errors("reading events"):
            reply = await self._source.client.xreadgroup(
                self.group,
                self.consumer,
                {self.stream.key: ">"},
                count=self.batch,
                block=block_ms,
            )
        return _parsed(_stream_entries(reply))

    async def step(self, *, block_ms: int | None = None) -> int:
        """Move one batch: retried entries first, then abandoned ones, then new ones.

        Returns how many entries were acknowledged (0: nothing to move). A
        :class:`~sessionary.exceptions.StoreError` from the database leaves the batch
        pending in the group, to be inserted again by the next step.
        """
        await self._ensure_group()
        entries, ids = await self._pending()
        if not ids:
            entries, ids = await self._claimed()
        if not ids:
            entries, ids = await self._new(block_ms)
        if not ids:
            return 0
        await self.target.append_events(entries)
        await self.stream.ack(self.group, ids)
        self.moved += len(ids)
        return len(ids)

    async def lag(self) -> AuditLag:
        """The group's pending and undelivered entries (``XINFO GROUPS``)."""
        with mapped_redis_errors("reading the consumer groups"):
            try:
                groups = await self._source.client.xinfo_groups(self.stream.key)
            except ResponseError:  # no stream yet
                groups = []
        return group_lag(groups, self.group)

    async def run(
        self,
        *,
        duration_s: float | None = None,
        limit: int | None = None,
        until_idle: bool = False,
        block_ms: int = 1000,
        retry_s: float = 1.0,
        on_step: Callable[[int, StoreError | None], Any] | None = None,
    ) -> int:
        """Move batches until told to stop; how many entries were moved.

        It stops once ``duration_s`` passed, ``limit`` entries moved, or (``until_idle``)
        the stream has nothing left for the group. A store error (Redis or the database)
        is reported to ``on_step`` and retried after ``retry_s``: nothing is acknowledged
        that was not inserted.
        """
        stop_at = None if duration_s is None else time.monotonic() + duration_s
        start = self.moved
        while stop_at is None or time.monotonic() < stop_at:
            if limit is not None and self.moved - start >= limit:
                break
            try:
                moved = await self.step(block_ms=None if until_idle else block_ms)
            except StoreError as error:
                if on_step is not None:
                    on_step(0, error)
                await asyncio.sleep(retry_s)
                continue
            if on_step is not None:
                on_step(moved, None)
            if moved == 0 and until_idle:
                break
        return self.moved - start


def _stream_entries(reply: Any) -> list[Any]:
    """The ``(id, fields)`` pairs of an ``XREADGROUP`` reply (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    streams = reply.values() if isinstance(reply, dict) else [entries for _, entries in reply]
    return [entry for entries in streams for entry in entries]


def _parsed(raw: Sequence[Any]) -> tuple[list[StreamEntry], list[str]]:
    """The sessionary events among stream entries, and every entry's ID to acknowledge.

    An entry trimmed while pending, or one that is not a sessionary event, is acknowledged
    too: retrying it could never succeed.
    """
    entries: list[StreamEntry] = []
    ids: list[str] = []
    for entry_id, fields in raw:
        raw_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        ids.append(raw_id)
        event = None if fields is None else decode_event(dict(fields))
        if event is not None:
            entries.append((raw_id, event))
    return entries, ids
