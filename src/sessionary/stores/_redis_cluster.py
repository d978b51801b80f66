"""Finding the Cluster primary that owns a key, for commands that name no key (``WAIT``).

A keyless command in a redis-py cluster pipeline goes to the client's *default* node, not to
the node the pipeline's other commands went to; ``WAIT`` must run on the primary that took
the write, on the same connection. The asyncio client learns its slot map lazily, hence the
two twins (the sync store's code is generated from the asyncio store's).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

__all__ = ["async_owner_of", "sync_owner_of"]


async def async_owner_of(client: AsyncRedisCluster, key: str) -> Any:
    """The ``ClusterNode`` owning ``key`` (loads the slot map on first use)."""
    await client.initialize()  # a no-op once the slot map is known
    return client.get_node_from_key(key)


def sync_owner_of(client: RedisCluster, key: str) -> Any:
    """The ``ClusterNode`` owning ``key`` (the sync client loads its map when created)."""
    node_of: Any = client.get_node_from_key  # untyped in redis-py's sync client
    return node_of(key)
