"""Durable lifecycle events in a Redis Stream, with consumer groups.

The manager publishes every lifecycle event of a request (created, rotated, destroyed,
revoked, evicted, invalid-id…) after the request's commit; the sweeper publishes the
``expired_*`` events. Consumers read them with a consumer group (each event handled by one
consumer of the group, acknowledged when done) or follow the stream (``sessionary events
tail``). Entries are trimmed to about ``maxlen`` (``XADD MAXLEN ~``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from sessionary._async.events import DEFAULT_MAXLEN, StreamEntry
from sessionary.backends.redis._async.io import async_send_pipeline
from sessionary.backends.redis._async.store import AsyncRedisStore
from sessionary.backends.redis._errors import mapped_redis_errors
from sessionary.backends.redis._layout import RedisLayout
from sessionary.sansio.events import SessionEvent, decode_event, encode_event

__all__ = ["AsyncRedisEventStream"]


class AsyncRedisEventStream:
    """Lifecycle events in the Redis Stream ``<prefix>:events`` (one key: Cluster-safe).

    ``client``: the :class:`~sessionary.stores.AsyncRedisStore` whose sessions the events
    describe — the stream then uses the store's client of the running event loop, and the
    store's prefix unless ``prefix`` is given — or a redis-py client (used as it is, so on
    one event loop only; the prefix defaults to ``"sessionary"``).

    >>> stream = AsyncRedisEventStream(store)  # doctest: +SKIP
    >>> await stream.ensure_group("audit")  # doctest: +SKIP
    >>> for entry_id, event in await stream.read_group("audit", "worker-1"):  # doctest: +SKIP
    ...     handle(event)
    ...     await stream.ack("audit", [entry_id])
    """

    def __init__(
        self,
        client: Redis | RedisCluster | AsyncRedisStore,
        *,
        prefix: str | None = None,
        maxlen: int = DEFAULT_MAXLEN,
    ) -> None:
        self._source = client
        if prefix is None:
            prefix = client.layout.prefix if isinstance(client, AsyncRedisStore) else "sessionary"
        self.key = RedisLayout(prefix).events_key()
        self.maxlen = maxlen

    @property
    def _client(self) -> Redis | RedisCluster:
        source = self._source
        return source.client if isinstance(source, AsyncRedisStore) else source

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key!r})"

    async def publish(self, events: Sequence[SessionEvent]) -> None:
        """``XADD`` each event (one pipelined round trip)."""
        if not events:
            return
        pipe = self._client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(self.key, encode_event(event), maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
        await async_send_pipeline(self._client, pipe, "publishing events")

    async def ensure_group(self, group: str, *, start: str = "0") -> None:
        """Create the consumer group (and the stream) unless it exists."""
        with mapped_redis_errors("creating a consumer group"):
            try:
                await self._client.xgroup_create(self.key, group, id=start, mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def read_group(
        self, group: str, consumer: str, *, count: int = 100, block_ms: int | None = None
    ) -> list[StreamEntry]:
        """New entries for this consumer of the group (acknowledge them with :meth:`ack`)."""
        with mapped_redis_errors("reading events"):
            reply = await self._client.xreadgroup(
                group, consumer, {self.key: ">"}, count=count, block=block_ms
            )
        return _entries(reply)

    async def ack(self, group: str, entry_ids: Sequence[str]) -> int:
        """Acknowledge handled entries."""
        if not entry_ids:
            return 0
        with mapped_redis_errors("acknowledging events"):
            return int(await self._client.xack(self.key, group, *entry_ids))

    async def read(
        self, after: str = "0", *, count: int = 100, block_ms: int | None = None
    ) -> list[StreamEntry]:
        """Entries after ``after`` (``"$"``: only new ones), without a group (for tailing)."""
        with mapped_redis_errors("reading events"):
            reply = await self._client.xread({self.key: after}, count=count, block=block_ms)
        return _entries(reply)

    async def recent(self, count: int) -> list[StreamEntry]:
        """The ``count`` most recent entries, oldest first (``XREVRANGE``)."""
        with mapped_redis_errors("reading events"):
            reply = await self._client.xrevrange(self.key, count=count)
        return _entries([(self.key, list(reversed(reply or [])))])

    async def last_id(self) -> str:
        """The ID of the newest entry (``"0"`` for an empty stream): read after it to follow."""
        with mapped_redis_errors("reading events"):
            reply = await self._client.xrevrange(self.key, count=1)
        if not reply:
            return "0"
        entry_id = reply[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def length(self) -> int:
        """How many entries the stream holds."""
        with mapped_redis_errors("reading events"):
            return int(await self._client.xlen(self.key))


def _entries(reply: Any) -> list[StreamEntry]:
    out: list[StreamEntry] = []
    if not reply:
        return out
    streams = reply.values() if isinstance(reply, dict) else [entries for _, entries in reply]
    for entries in streams:
        for entry_id, fields in entries:
            if fields is None:
                continue  # deleted while pending
            event = decode_event(dict(fields))
            if event is not None:
                raw_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                out.append((raw_id, event))
    return out
