"""A bounded connection pool whose callers wait for a free connection, cheaply.

redis-py's asyncio ``BlockingConnectionPool`` takes an ``asyncio.Condition`` and arms a
timeout on *every* checkout, which costs about 12 µs per round trip (measured on this
project's CI machine: 119.6 µs per session load against 107.8 µs with a plain pool). The
common case is a free connection, so :class:`AsyncWaitingPool` takes the plain pool's path
and only waits — for a released connection, up to ``timeout`` seconds — when all
``max_connections`` are in use. Waiters are woken one per released connection, in order.

The sync store keeps redis-py's ``BlockingConnectionPool`` (``WaitingPool`` below): a
thread's ``Condition`` costs little next to a socket round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from redis import BlockingConnectionPool
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

__all__ = ["AsyncWaitingPool", "WaitingPool"]

WaitingPool = BlockingConnectionPool
"""The sync twin: redis-py's own blocking pool."""


class AsyncWaitingPool(ConnectionPool):
    """``ConnectionPool`` that waits up to ``timeout`` s when every connection is busy."""

    def __init__(self, *, timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timeout = timeout
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        """A connected connection; waits for a release when the pool is exhausted."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            try:
                return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]
            except MaxConnectionsError:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    msg = "No connection available."
                    raise RedisConnectionError(msg) from None
                await self._wait(loop, remaining)

    async def _wait(self, loop: asyncio.AbstractEventLoop, remaining: float) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, remaining)
        except asyncio.TimeoutError:
            msg = "No connection available."
            raise RedisConnectionError(msg) from None
        except BaseException:
            # Cancelled after being woken: hand the wake-up on, or a released connection
            # could sit idle while another caller waits.
            if waiter.done() and not waiter.cancelled():
                self._wake_one()
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):  # already taken by _wake_one
                self._waiters.remove(waiter)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def release(self, connection: AbstractConnection) -> None:
        """Return a connection, then wake the longest-waiting caller."""
        await super().release(connection)
        self._wake_one()
