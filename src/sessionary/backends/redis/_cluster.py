"""Pipelines on a Cluster: the primary that owns a key, and the slot map after a failure.

A keyless command in a redis-py cluster pipeline goes to the client's *default* node, not to
the node the pipeline's other commands went to; ``WAIT`` must run on the primary that took
the write, on the same connection. The asyncio client learns its slot map lazily, hence the
twins (the sync store's code is generated from the asyncio store's).

A failed pipeline does not make redis-py's asyncio Cluster client (8.x) refresh its slot map,
unlike a failed single command: a store whose only traffic to a dead primary's slots is
pipelined (durable writes, device lists, the expiry schedule) would keep sending it to the
dead address after the failover. Every pipeline the store and the event stream send goes
through :func:`async_execute_pipeline`, which refreshes the map when the pipeline fails.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from sessionary.backends.redis._errors import mapped_redis_errors

__all__ = [
    "async_execute_pipeline",
    "async_owner_of",
    "async_refresh_slots",
    "async_send_pipeline",
    "owner_moved",
    "sync_execute_pipeline",
    "sync_owner_of",
    "sync_send_pipeline",
]


async def async_owner_of(client: AsyncRedisCluster, key: str) -> Any:
    """The ``ClusterNode`` owning ``key`` (loads the slot map on first use)."""
    await client.initialize()  # a no-op once the slot map is known
    return client.get_node_from_key(key)


def sync_owner_of(client: RedisCluster, key: str) -> Any:
    """The ``ClusterNode`` owning ``key`` (the sync client loads its map when created)."""
    node_of: Any = client.get_node_from_key  # untyped in redis-py's sync client
    return node_of(key)


def owner_moved(client: Any, key: str, owner: Any) -> bool:
    """Whether ``key`` now maps to another primary than ``owner`` (a MOVED was followed).

    A slot map that no longer covers the key counts as moved: the write happened, where its
    acknowledgement came from is unknown.
    """
    try:
        current = client.get_node_from_key(key)
    except (RedisError, RedisClusterException):
        return True
    return current is None or current.name != owner.name


async def async_refresh_slots(client: AsyncRedisCluster) -> None:
    """Re-read the slot map from a reachable node (best effort: errors are the caller's).

    Connections are kept (redis-py recycles them lazily), so commands other tasks have in
    flight are not disturbed. When no node answers, the map stays as it was and the next
    failing write tries again.
    """
    try:
        await client.nodes_manager.initialize()
    except (RedisError, RedisClusterException, OSError):
        return


async def async_execute_pipeline(client: Any, pipe: Any) -> Any:
    """Execute a pipeline of ``client``; a failure on a Cluster refreshes the slot map first.

    Errors are raised as redis-py raised them. ``NOSCRIPT`` says nothing about the topology
    (the caller loads the script and sends again): no refresh for it.
    """
    try:
        return await pipe.execute()
    except NoScriptError:
        raise
    except Exception:
        if isinstance(client, AsyncRedisCluster):
            await async_refresh_slots(client)
        raise


def sync_execute_pipeline(client: Any, pipe: Any) -> Any:
    """Execute a pipeline of ``client`` (the sync client refreshes its slot map by itself)."""
    del client
    return pipe.execute()


async def async_send_pipeline(client: Any, pipe: Any, operation: str) -> Any:
    """:func:`async_execute_pipeline` with redis-py's errors mapped to the store's."""
    with mapped_redis_errors(operation):
        return await async_execute_pipeline(client, pipe)


def sync_send_pipeline(client: Any, pipe: Any, operation: str) -> Any:
    """:func:`sync_execute_pipeline` with redis-py's errors mapped to the store's."""
    with mapped_redis_errors(operation):
        return sync_execute_pipeline(client, pipe)
