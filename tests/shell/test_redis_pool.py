"""The async store's connection pool: free connections without locks, waiting when exhausted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from sessionary.stores._redis_pool import AsyncWaitingPool

pytestmark = pytest.mark.anyio


def client(redis_url: str, *, size: int, timeout: float) -> Redis:
    pool = AsyncWaitingPool.from_url(redis_url, max_connections=size, timeout=timeout)
    return Redis.from_pool(pool)


async def hold(redis: Redis, key: str, seconds: float) -> None:
    """Keep one connection busy for ``seconds`` (a blocking pop that times out), or until
    :func:`release` pushes to ``key``."""
    await redis.blpop([key], timeout=seconds)


async def release(redis_url: str, key: str) -> None:
    """End a :func:`hold` now, through a connection of another pool."""
    other = Redis.from_url(redis_url)
    try:
        await other.lpush(key, b"go")
    finally:
        await other.aclose()


async def until(condition: Callable[[], bool]) -> None:
    """Wait (up to 10 s) for ``condition``, instead of guessing how long the loop needs."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached in 10 s")


async def test_callers_wait_for_a_released_connection(redis_url: str, key_prefix: str) -> None:
    redis = client(redis_url, size=2, timeout=5)
    try:
        await asyncio.gather(*(hold(redis, f"{key_prefix}:q", 0.1) for _ in range(6)))
        pool = redis.connection_pool
        assert len(pool._in_use_connections) == 0
        assert len(pool._available_connections) == 2
        assert await redis.ping()
    finally:
        await redis.aclose()


async def test_waiting_is_bounded_by_the_pool_timeout(redis_url: str, key_prefix: str) -> None:
    redis = client(redis_url, size=1, timeout=0.05)
    pool = redis.connection_pool
    try:
        busy = asyncio.ensure_future(hold(redis, f"{key_prefix}:q", 30))
        await until(lambda: len(pool._in_use_connections) == 1)
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await redis.ping()
        await release(redis_url, f"{key_prefix}:q")
        await busy
        assert await redis.ping()
    finally:
        await redis.aclose()


async def test_a_cancelled_waiter_does_not_swallow_a_wake_up(
    redis_url: str, key_prefix: str
) -> None:
    redis = client(redis_url, size=1, timeout=30)
    pool = redis.connection_pool
    assert isinstance(pool, AsyncWaitingPool)
    try:
        busy = asyncio.ensure_future(hold(redis, f"{key_prefix}:q", 30))
        await until(lambda: len(pool._in_use_connections) == 1)
        cancelled = asyncio.ensure_future(redis.ping())
        patient = asyncio.ensure_future(redis.ping())
        await until(lambda: len(pool._waiters) == 2)
        cancelled.cancel()
        await release(redis_url, f"{key_prefix}:q")
        await busy
        assert await asyncio.wait_for(patient, 10) is True
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    finally:
        await redis.aclose()
