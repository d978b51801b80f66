"""Small I/O helpers of the Redis store and event stream, written once for asyncio.

* :func:`async_close_client`: close a client the store created, with the sentinels of a
  ``master_for()`` client (the per-loop client table calls it, see ``_loops.py``).
* :func:`async_pause`: the backoff before a retry (:mod:`sessionary.backends.redis._retry`
  says which operations are retried).
* :func:`async_owner_of`: the primary that owns a key. A keyless command in a redis-py
  cluster pipeline goes to the client's *default* node, not to the node the pipeline's other
  commands went to, so ``WAIT`` must be sent to the owner found here. The asyncio client
  learns its slot map lazily (on its first command): it is loaded first; the sync client
  loads it in its constructor.
* :func:`async_execute_pipeline` / :func:`async_send_pipeline`: a failed pipeline does not
  make redis-py's asyncio Cluster client (8.x) refresh its slot map, unlike a failed single
  command: a store whose only traffic to a dead primary's slots is pipelined (durable
  writes, device lists, the expiry schedule) would keep sending it to the dead address
  after a failover. Every pipeline the store and the event stream send goes through
  :func:`async_execute_pipeline`, which refreshes the map when the pipeline fails, for the
  clients ``_pool.py`` lists as needing it (none in the sync flavour: redis-py's sync
  pipeline refreshes by itself).
* :func:`async_raw_replies`: the read path's commands (``HGETALL``, and the user's epoch
  ``GET`` when its key is known; packed by ``_reads.pack_read``) written at once on one
  pooled connection, their replies read unparsed: no pipeline object, no response
  callback (``HGETALL``'s turns the reply into a dict the store would flatten again),
  none of ``execute_command``'s per-call bookkeeping. Errors behave as in
  ``execute_command``: redis-py's connection disconnects itself on any failure while
  sending or reading (a cancellation too), so a half-read connection never goes back to
  the pool. :func:`async_raw_exchange` does the same on several clients at once: every
  batch is written before any reply is read (a replica read and the primary's epoch
  ``GET`` cost one round trip, not two).
* :func:`async_replica_of` / :func:`async_slot_nodes`: where a read from a replica goes
  (a Sentinel primary's replica client, made once per primary client and closed with it; a
  Cluster slot's primary and replicas); :func:`async_node_replies`: raw replies from one
  Cluster node.

The sync twins (``sync_pause``...) are generated into ``_sync/io.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError

from sessionary.backends.redis._errors import mapped_redis_errors
from sessionary.backends.redis._pool import AsyncClustersToRefresh
from sessionary.backends.redis._reads import PackedCommands
from sessionary.exceptions import ConfigurationError

_REPLICA = "_sessionary_replica"
"""The attribute of a Sentinel primary client holding its replica client."""

__all__ = [
    "async_close_client",
    "async_execute_pipeline",
    "async_node_replies",
    "async_owner_of",
    "async_pause",
    "async_raw_exchange",
    "async_raw_replies",
    "async_refresh_slots",
    "async_replica_of",
    "async_send_pipeline",
    "async_slot_nodes",
]


async def async_close_client(client: Any) -> None:
    """Close a client the store created, with the sentinels of a ``master_for()`` client."""
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    replica = getattr(client, _REPLICA, None)
    for each in (
        *((replica,) if replica is not None else ()),
        client,
        *getattr(manager, "sentinels", ()),
    ):
        with contextlib.suppress(RedisError, OSError):
            await each.aclose()


async def async_pause(seconds: float) -> None:
    """Back off before a retry."""
    await asyncio.sleep(seconds)


async def async_owner_of(client: Any, key: str) -> Any:
    """The ``ClusterNode`` owning ``key`` (the slot map is loaded first if it is not yet)."""
    if getattr(client, "_initialize", False):  # only redis-py's asyncio client loads lazily
        await client.initialize()
    return client.get_node_from_key(key)


async def async_refresh_slots(client: Any) -> None:
    """Re-read the slot map from a reachable node (best effort: errors are the caller's).

    Connections are kept (redis-py recycles them lazily), so commands other tasks have in
    flight are not disturbed. When no node answers, the map stays as it was and the next
    failing write tries again.
    """
    try:
        await client.nodes_manager.initialize()
    except (RedisError, RedisClusterException, OSError):
        return


async def async_execute_pipeline(client: Any, pipe: Any, *, raise_on_error: bool = True) -> Any:
    """Execute a pipeline of ``client``; a failure on a Cluster refreshes the slot map first.

    Errors are raised as redis-py raised them (``raise_on_error=False``: an error reply comes
    back in its command's place). ``NOSCRIPT`` says nothing about the topology (the caller
    loads the script and sends again): no refresh for it.
    """
    try:
        if raise_on_error:
            return await pipe.execute()
        return await pipe.execute(raise_on_error=False)
    except NoScriptError:
        raise
    except Exception:
        if isinstance(client, AsyncClustersToRefresh):
            await async_refresh_slots(client)
        raise


async def async_send_pipeline(client: Any, pipe: Any, operation: str) -> Any:
    """:func:`async_execute_pipeline` with redis-py's errors mapped to the store's."""
    with mapped_redis_errors(operation):
        return await async_execute_pipeline(client, pipe)


async def async_raw_replies(
    client: Any, commands: Sequence[tuple[str, ...]] | PackedCommands
) -> list[Any] | None:
    """Send ``commands`` in one write on one pooled connection and read their raw replies.

    An error reply comes back in the list as its ``ResponseError`` (the later replies are
    still read, so the connection stays in step). ``None`` when ``client`` is not a pooled
    standalone or Sentinel client (a Cluster, a single-connection client): the caller then
    sends through redis-py's commands. redis-py's errors are raised as redis-py raised them.
    """
    replies = await async_raw_exchange([(client, commands)])
    return None if replies is None else replies[0]


async def async_raw_exchange(
    batches: Sequence[tuple[Any, Sequence[tuple[str, ...]] | PackedCommands]],
) -> list[list[Any]] | None:
    """:func:`async_raw_replies` for several clients: all batches written, then all read.

    A connection whose replies were not all read when an error struck is disconnected
    before it goes back to its pool (its unread replies would answer the next caller).
    """
    if not all(isinstance(c, Redis) and c.connection is None for c, _ in batches):
        return None
    taken: list[tuple[Any, Any]] = []
    results: list[list[Any]] = []
    try:
        for client, commands in batches:
            pool: Any = client.connection_pool
            connection: Any = await pool.get_connection()
            taken.append((pool, connection))
            if isinstance(commands, PackedCommands):  # a tuple: see tests/redis_counting.py
                await connection.send_packed_command((commands.data,))
            else:
                await connection.send_packed_command(connection.pack_commands(commands))
        for (_, connection), (_, commands) in zip(taken, batches, strict=True):
            replies: list[Any] = []
            for _ in range(len(commands)):
                try:
                    replies.append(await connection.read_response())
                except ResponseError as error:
                    replies.append(error)
            results.append(replies)
        return results
    finally:
        for index, (pool, connection) in enumerate(taken):
            if index >= len(results):
                await connection.disconnect()
            await pool.release(connection)


def async_replica_of(primary: Any) -> Redis:
    """The replica client of a Sentinel ``master_for()`` client (made on first use).

    Same pool class, limits and connection options as the primary's; closed with the
    primary by :func:`async_close_client`.
    """
    replica: Redis | None = getattr(primary, _REPLICA, None)
    if replica is not None:
        return replica
    pool: Any = getattr(primary, "connection_pool", None)
    manager = getattr(pool, "sentinel_manager", None)
    if manager is None:
        msg = "read_from_replicas needs a Sentinel (master_for) or Cluster client"
        raise ConfigurationError(msg)
    options = {k: v for k, v in pool.connection_kwargs.items() if k != "connection_pool"}
    if hasattr(pool, "timeout"):
        options["timeout"] = pool.timeout
    replica = manager.slave_for(
        pool.service_name,
        connection_pool_class=type(pool),
        max_connections=pool.max_connections,
        **options,
    )
    setattr(primary, _REPLICA, replica)
    return replica


async def async_node_replies(node: Any, commands: Sequence[tuple[str, ...]]) -> list[Any]:
    """:func:`async_raw_replies` on one Cluster node (a replica read: no pipeline object).

    redis-py's sync ``ClusterNode`` holds a pooled client (``redis_connection``); the
    asyncio one holds its connections itself, taken in turn as its own commands take them
    (``_pool.py``'s waiting nodes). A connection whose replies were not all read is
    disconnected before it goes back.
    """
    client = getattr(node, "redis_connection", None)  # only redis-py's sync node has one
    if client is not None:
        replies = await async_raw_replies(client, commands)
        assert replies is not None  # a pooled client
        return replies
    take_turn = getattr(node, "_take_turn", None)
    if take_turn is not None:
        await take_turn()
    connection: Any = node.acquire_connection()
    replies = []
    try:
        await connection.send_packed_command(connection.pack_commands(commands))
        for _ in commands:
            try:
                replies.append(await connection.read_response())
            except ResponseError as error:
                replies.append(error)
        return replies
    finally:
        if len(replies) < len(commands):
            await connection.disconnect()
        node.release(connection)


async def async_slot_nodes(client: Any, key: str) -> list[Any]:
    """The ``ClusterNode`` list of ``key``'s slot: its primary first, then its replicas."""
    if getattr(client, "_initialize", False):  # only redis-py's asyncio client loads lazily
        await client.initialize()
    nodes: list[Any] = client.nodes_manager.slots_cache.get(client.keyslot(key), [])
    return nodes
