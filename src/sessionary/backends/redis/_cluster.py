"""Whether a Cluster write was acknowledged by the primary that took it.

A durable write sends the script and ``WAIT`` in one pipeline to the primary that owns the
key (:func:`sessionary.backends.redis._async.io.async_owner_of`). If redis-py followed a
``MOVED`` in between, the write landed on another primary than the one whose ``WAIT``
answered: :func:`owner_moved` tells the store so.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisClusterException, RedisError

__all__ = ["owner_moved"]


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
