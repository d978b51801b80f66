"""Where a Cluster's tracking connections go: one per primary (``AsyncNodes`` / ``Nodes``).

redis-py's asyncio and sync Cluster clients describe their nodes differently (the asyncio
node holds its connection class and arguments, the sync node a client with a pool), so the
two flavours are a pair of classes side by side (docs/architecture.md). Each answers the
current primaries as ``(name, connect)``, ``connect`` making a RESP3 connection to that
node with the cluster's credentials and TLS, no retries and no health checks; an empty list
while the client has not learnt the topology yet.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["AsyncNodes", "Nodes", "tracking_options"]

Primary = tuple[str, Callable[[], Any]]


def tracking_options(options: dict[str, Any], retry: Any) -> dict[str, Any]:
    """A pool's connection arguments for a tracking connection (see the module)."""
    return {**options, "protocol": 3, "retry": retry, "health_check_interval": 0}


def _make(connection_class: Any, options: dict[str, Any]) -> Any:
    return connection_class(**options)


class AsyncNodes:
    """The primaries of an asyncio ``RedisCluster``."""

    @staticmethod
    async def refresh(client: Any) -> None:
        """Ask the cluster for its topology again (a primary's stream cannot be reached)."""
        await client.nodes_manager.initialize()

    @staticmethod
    def primaries(client: Any) -> list[Primary]:
        """``(name, connect)`` per primary the client knows now."""
        return [
            (
                node.name,
                partial(
                    _make,
                    node.connection_class,
                    tracking_options(node.connection_kwargs, AsyncRetry(NoBackoff(), 0)),
                ),
            )
            for node in client.get_primaries()
        ]


class Nodes:
    """The primaries of a sync ``RedisCluster``."""

    @staticmethod
    def refresh(client: Any) -> None:
        """Ask the cluster for its topology again (a primary's stream cannot be reached)."""
        client.nodes_manager.initialize()

    @staticmethod
    def primaries(client: Any) -> list[Primary]:
        """``(name, connect)`` per primary the client knows now."""
        primaries: list[Primary] = []
        for node in client.get_primaries():
            if node.redis_connection is None:
                return []
            pool = node.redis_connection.connection_pool
            options = tracking_options(pool.connection_kwargs, Retry(NoBackoff(), 0))
            primaries.append((node.name, partial(_make, pool.connection_class, options)))
        return primaries
