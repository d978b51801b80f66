"""Bounded connection pools whose callers wait for a free connection, in turn.

Every topology gets the same rule: at most ``max_connections`` connections (per node on a
Cluster); a caller finding all of them busy waits — up to ``timeout`` seconds, then
``MaxConnectionsError("No connection available.")``, a ``ConnectionError`` — and is served
**first come, first served**: a released connection is handed straight to the oldest
waiter (its future is resolved with the connection, as psycopg_pool's ``pool_async.py``
does). A caller that was merely woken up had to race for the connection against tasks that
had not waited at all, and lost again and again (with 100 concurrent readers on 64
connections the same 36 requests waited about 4 s, each passed over some 240 times).

The common case is a free connection: it is taken on redis-py's own path, without a
``Condition``, a timer or a wait (redis-py's asyncio ``BlockingConnectionPool`` arms a
timeout on *every* checkout, about 12 µs per round trip on this project's CI machine). Only
a caller that has to wait creates a future and a timer.

* standalone: :class:`AsyncWaitingPool` (a ``ConnectionPool``);
* Sentinel: :class:`AsyncWaitingSentinelPool` (a ``SentinelConnectionPool``), given to
  ``Sentinel.master_for(connection_pool_class=...)``;
* Cluster: redis-py's asyncio ``ClusterNode`` keeps its own connections and raises
  ``MaxConnectionsError`` at once when they are all busy, and its ``NodesManager`` creates
  nodes by the class name ``ClusterNode``: :class:`AsyncWaitingCluster` makes every node of
  the client a :class:`AsyncWaitingClusterNode` as it enters the client's node table.

The sync store uses redis-py's ``BlockingConnectionPool`` for all three (``WaitingPool``,
``WaitingSentinelPool``, :class:`WaitingCluster`): threads wait on a ``Condition``, which
costs little next to a socket round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from redis import BlockingConnectionPool
from redis.asyncio import ConnectionPool
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelConnectionPool
from redis.cluster import RedisCluster
from redis.exceptions import MaxConnectionsError
from redis.sentinel import SentinelConnectionPool

__all__ = [
    "AsyncClustersToRefresh",
    "AsyncWaitingCluster",
    "AsyncWaitingClusterNode",
    "AsyncWaitingPool",
    "AsyncWaitingSentinelPool",
    "ClustersToRefresh",
    "WaitingCluster",
    "WaitingPool",
    "WaitingSentinelPool",
]

NO_CONNECTION = "No connection available."
"""redis-py's own message when a blocking pool gives up waiting."""


class ConnectionQueue:
    """Callers waiting for a connection, oldest first."""

    __slots__ = ("_waiters", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._waiters: deque[asyncio.Future[Any]] = deque()

    def __bool__(self) -> bool:
        """Whether anyone is waiting (then a newcomer queues behind them)."""
        return bool(self._waiters)

    def __len__(self) -> int:
        return len(self._waiters)

    async def wait(self, put_back: Callable[[Any], None]) -> Any:
        """The connection a release hands over; ``MaxConnectionsError`` after ``timeout`` s.

        ``put_back`` returns a connection to its pool, synchronously: it is called when one
        was handed over just as this caller was cancelled, and nobody else waits.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self.timeout, _expire, waiter)
        try:
            return await waiter
        except BaseException:
            if _handed(waiter) and not self.hand_over(waiter.result()):
                put_back(waiter.result())
            raise
        finally:
            timer.cancel()
            if not _handed(waiter):  # expired or cancelled while queued
                with contextlib.suppress(ValueError):  # unless hand_over skipped it already
                    self._waiters.remove(waiter)

    def hand_over(self, connection: Any) -> bool:
        """Give ``connection`` to the oldest waiter; ``False`` if nobody waits."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False


def _handed(waiter: asyncio.Future[Any]) -> bool:
    """Whether a release resolved ``waiter`` with a connection (it left the queue then)."""
    return waiter.done() and not waiter.cancelled() and waiter.exception() is None


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        # A ConnectionError, but the one redis-py's Cluster client does not take for a
        # failed node (no slot-map refresh, no reconnections).
        waiter.set_exception(MaxConnectionsError(NO_CONNECTION))


class _Waiting(ConnectionPool):
    """The waiting behaviour, for any asyncio ``ConnectionPool`` (mixed in first)."""

    def __init__(self, *args: Any, timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout = timeout
        self._queue = ConnectionQueue(timeout)

    @property
    def waiting(self) -> int:
        """How many callers wait for a connection now."""
        return len(self._queue)

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        """A connected connection; waits in turn when all ``max_connections`` are busy."""
        if not self._queue:
            try:
                return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]
            except MaxConnectionsError:
                pass
        connection: AbstractConnection = await self._queue.wait(self._put_back)
        try:
            # What redis-py does between a release and the next checkout.
            if connection.should_reconnect():  # type: ignore[no-untyped-call]
                await connection.disconnect()
            await connection.re_auth()  # type: ignore[no-untyped-call]
            await self.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: AbstractConnection) -> None:
        """Hand the connection to the oldest waiter, or return it to the pool."""
        if not self._queue.hand_over(connection):
            await super().release(connection)

    def _put_back(self, connection: AbstractConnection) -> None:
        # Synchronous (called while a cancellation unwinds): the pool's own release awaits.
        self._in_use_connections.discard(connection)
        self._available_connections.append(connection)


class AsyncWaitingPool(_Waiting, ConnectionPool):
    """``ConnectionPool`` whose callers wait (in turn, up to ``timeout`` s) when it is full."""


class AsyncWaitingSentinelPool(_Waiting, AsyncSentinelConnectionPool):
    """Sentinel's pool of connections to the primary, waiting as :class:`AsyncWaitingPool`."""


WaitingPool = BlockingConnectionPool
"""The sync twin of :class:`AsyncWaitingPool`: redis-py's own blocking pool."""


class WaitingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The sync twin of :class:`AsyncWaitingSentinelPool`: Sentinel's pool, blocking."""


# ---------------------------------------------------------------------------- Cluster
_NODE_QUEUES: dict[int, ConnectionQueue] = {}
"""The waiters of each :class:`AsyncWaitingClusterNode`, by ``id(node)``.

``ClusterNode`` has ``__slots__``: a subclass that a node can be switched to in place
(``node.__class__ = ...``) may add no slot of its own, so the queue lives here, from the
switch to the node's ``__del__``.
"""


class AsyncWaitingClusterNode(ClusterNode):
    """A ``ClusterNode`` whose commands wait for a connection, in turn, when all are busy."""

    __slots__ = ()

    async def _take_turn(self) -> None:
        """Wait, if needed, until a connection is ours; leave it first in the free list.

        The caller then calls redis-py's method at once: its first statement,
        ``acquire_connection()``, takes that connection before any other task runs.
        """
        queue = _NODE_QUEUES[id(self)]
        if not queue and (self._free or len(self._connections) < self.max_connections):
            return
        connection = await queue.wait(partial(ClusterNode.release, self))
        self._free.appendleft(connection)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """redis-py's, after waiting for a connection when the node has none free."""
        await self._take_turn()
        return await super().execute_command(*args, **kwargs)

    async def execute_pipeline(self, commands: Any) -> bool:
        """redis-py's, after waiting for a connection when the node has none free."""
        await self._take_turn()
        return await super().execute_pipeline(commands)

    def release(self, connection: Any) -> None:
        """Hand the connection to the oldest waiter, or return it to the node."""
        queue = _NODE_QUEUES.get(id(self))
        if queue is None or not queue.hand_over(connection):
            super().release(connection)

    def __del__(self, *args: Any, _queues: dict[int, ConnectionQueue] = _NODE_QUEUES) -> None:
        # The table is bound as a default: module globals may be gone at interpreter exit.
        _queues.pop(id(self), None)
        super().__del__(*args)


def _make_waiting(node: ClusterNode, timeout: float) -> None:
    if type(node) is ClusterNode:
        _NODE_QUEUES[id(node)] = ConnectionQueue(timeout)
        node.__class__ = AsyncWaitingClusterNode


class _WaitingNodeTable(dict[str, ClusterNode]):
    """A ``NodesManager.nodes_cache`` that makes every node entering it wait for connections.

    redis-py adds nodes to its table only by item assignment (``set_nodes``, after each
    slot-map refresh and each ``MOVED`` to a new node), never by ``update()``.
    """

    __slots__ = ("timeout",)

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def __setitem__(self, name: str, node: ClusterNode) -> None:
        _make_waiting(node, self.timeout)
        super().__setitem__(name, node)


class AsyncWaitingCluster(AsyncRedisCluster):
    """An asyncio ``RedisCluster`` whose nodes wait ``pool_timeout`` s for a connection.

    It also loads its slot map before routing a command: redis-py (8.x) picks a command's
    node *before* it initializes the client, so the commands concurrent tasks send to a
    fresh client go to a random node, come back ``MOVED``, and after five of them the client
    refreshes its slot map, disconnecting connections other tasks are using (seen as
    ``'NoneType' object has no attribute 'writelines'``). A store opens a fresh client on
    every new event loop: each would start that way.
    """

    def __init__(self, *args: Any, pool_timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager: Any = self.nodes_manager
        table = _WaitingNodeTable(pool_timeout)
        for name, node in manager.nodes_cache.items():
            table[name] = node
        manager.nodes_cache = table

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """redis-py's, once the slot map is loaded."""
        if self._initialize:
            await self.initialize()
        return await super().execute_command(*args, **kwargs)


AsyncClustersToRefresh: tuple[type, ...] = (AsyncRedisCluster,)
"""Clients whose failed pipelines leave a stale slot map: redis-py's asyncio Cluster (8.x)
does not refresh it after a failed pipeline (a failed single command does). Every pipeline
of the asyncio store goes through ``_async/io.py``'s ``async_execute_pipeline``, which
refreshes the map for these."""

ClustersToRefresh: tuple[type, ...] = ()
"""The sync twin of :data:`AsyncClustersToRefresh`: none. redis-py's sync cluster pipeline
refreshes its slot map by itself, and a refresh from here would also disconnect the startup
nodes' pools under other threads' commands."""


class WaitingCluster(RedisCluster):
    """The sync twin of :class:`AsyncWaitingCluster`, with node pools that block when full.

    Each node's ``BlockingConnectionPool`` waits up to ``pool_timeout`` s when all its
    ``max_connections`` are busy. redis-py's sync client reads the slot map in its
    constructor: create it on first use.
    """

    def __init__(self, *args: Any, pool_timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(
            *args, connection_pool_class=BlockingConnectionPool, timeout=pool_timeout, **kwargs
        )
