"""The async store's connection pool: free connections without locks, waiting in turn when full."""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import time
from contextvars import ContextVar
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

from sessionary.backends.redis._pool import AsyncWaitingCluster, AsyncWaitingPool
from tests.cluster import RedisClusterNodes

pytestmark = pytest.mark.anyio


def client(redis_url: str, *, size: int, timeout: float) -> Redis:
    pool = AsyncWaitingPool.from_url(redis_url, max_connections=size, timeout=timeout)
    return Redis.from_pool(pool)


async def hold(redis: Redis, key: str, seconds: float) -> None:
    """Keep one connection busy for ``seconds`` (a blocking pop that times out)."""
    await redis.blpop([key], timeout=seconds)


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
    try:
        busy = asyncio.ensure_future(hold(redis, f"{key_prefix}:q", 0.5))
        await asyncio.sleep(0.02)
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await redis.ping()
        pool: Any = redis.connection_pool
        assert pool.waiting == 0  # the caller that gave up left the queue
        await busy
        assert await redis.ping()
    finally:
        await redis.aclose()


async def test_a_cancelled_waiter_does_not_swallow_a_wake_up(
    redis_url: str, key_prefix: str
) -> None:
    redis = client(redis_url, size=1, timeout=5)
    try:
        busy = asyncio.ensure_future(hold(redis, f"{key_prefix}:q", 0.1))
        await asyncio.sleep(0.02)
        cancelled = asyncio.ensure_future(redis.ping())
        patient = asyncio.ensure_future(redis.ping())
        await asyncio.sleep(0.02)
        cancelled.cancel()
        await asyncio.sleep(0)
        pool: Any = redis.connection_pool
        assert pool.waiting == 1  # only the patient caller still queues
        await busy
        assert await asyncio.wait_for(patient, 2) is True
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    finally:
        await redis.aclose()


async def test_a_released_connection_goes_to_the_oldest_waiter_not_to_a_newcomer(
    redis_url: str,
) -> None:
    pool = AsyncWaitingPool.from_url(redis_url, max_connections=1, timeout=5)
    served: list[str] = []

    async def patient() -> None:
        connection = await pool.get_connection()
        served.append("waiter")
        await pool.release(connection)

    try:
        held = await pool.get_connection()
        waiter = asyncio.ensure_future(patient())
        await asyncio.sleep(0.02)  # the waiter queues for the only connection
        # The holder releases it and asks again at once (a request's next command): it
        # arrived after the waiter, so it is served after the waiter.
        await pool.release(held)
        again = await pool.get_connection()
        served.append("newcomer")
        await pool.release(again)
        await waiter
        assert served == ["waiter", "newcomer"]
    finally:
        await pool.aclose()


TICKET: ContextVar[int] = ContextVar("ticket")


class RecordingPool(AsyncWaitingPool):
    """Notes each checkout's arrival, whether it had to queue, when it got a connection."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrivals = itertools.count()
        self.queued: set[int] = set()  # tickets that found the pool full or a queue
        self.granted: list[int] = []  # tickets, in the order they took their connection
        self.waits: dict[int, float] = {}

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        ticket = next(self.arrivals)
        TICKET.set(ticket)
        if getattr(self, "waiting", 0) or not self.can_get_connection():
            self.queued.add(ticket)
        start = time.perf_counter()
        try:
            return await super().get_connection(*args, **kwargs)
        finally:
            self.waits[ticket] = time.perf_counter() - start

    async def ensure_connection(self, connection: Any) -> None:
        # Both paths call it right after taking a connection: a waiter as soon as it wakes
        # up, and waiters wake up in the order their connections were handed over.
        self.granted.append(TICKET.get())
        await super().ensure_connection(connection)


@pytest.mark.parametrize(("workers", "rounds"), [(100, 20), (1000, 3)])
async def test_waiters_are_served_in_turn_and_none_waits_out_of_proportion(
    redis_url: str, key_prefix: str, workers: int, rounds: int
) -> None:
    size = 64
    pool = RecordingPool.from_url(redis_url, max_connections=size, timeout=5.0)  # defaults
    redis = Redis.from_pool(pool)
    try:
        await asyncio.gather(*(redis.ping() for _ in range(size)))  # all 64 connected
        pool.granted.clear()
        pool.waits.clear()
        pool.queued.clear()
        first = next(pool.arrivals)

        async def reader() -> None:
            for _ in range(rounds):
                await redis.get(f"{key_prefix}:k")

        start = time.perf_counter()
        await asyncio.gather(*(reader() for _ in range(workers)))  # none fails
        elapsed = time.perf_counter() - start
    finally:
        await redis.aclose()
    requests = workers * rounds
    assert sorted(pool.granted) == list(range(first + 1, first + 1 + requests))
    # First come, first served: those who queued got their connections in the order they
    # arrived, none passed over even once (and no newcomer takes a connection past them:
    # test_a_released_connection_goes_to_the_oldest_waiter_not_to_a_newcomer).
    waited = [ticket for ticket in pool.granted if ticket in pool.queued]
    due = sorted(waited)
    out_of_turn = sum(1 for served, turn in zip(waited, due, strict=True) if served != turn)
    assert len(waited) >= workers - size  # the burst did queue
    assert waited == sorted(waited), f"{out_of_turn} of {len(waited)} waiters served out of turn"
    # FIFO bounds a wait by the queue ahead of it: at most ceil(workers / size) rounds of
    # the pool, each as long as the pool takes for `size` requests (measured in this run,
    # so a slow machine scales both sides); slack for a loaded machine.
    service = elapsed * size / requests
    bound = 4 * math.ceil(workers / size) * service + 0.05
    waits = sorted(pool.waits.values())
    assert waits[-1] <= bound, (waits[-1], bound, statistics.median(waits))


# ---------------------------------------------------------------------------- Cluster
def cluster_client(cluster: RedisClusterNodes, *, size: int, timeout: float) -> Any:
    host, port = cluster.startup_nodes[0]
    return AsyncWaitingCluster.from_url(
        f"redis://{host}:{port}", max_connections=size, pool_timeout=timeout
    )


async def test_a_cluster_node_serves_its_waiters_in_turn(
    redis_cluster: RedisClusterNodes, cluster_admin: Any, key_prefix: str
) -> None:
    client = cluster_client(redis_cluster, size=1, timeout=5)
    key = f"{key_prefix}:q"
    served: list[str] = []

    async def holder() -> None:
        await client.blpop([key], timeout=0.2)  # the node's only connection, for 0.2 s
        await client.get(key)  # asks again at once: behind the waiter
        served.append("holder")

    async def waiter() -> None:
        await client.get(key)
        served.append("waiter")

    try:
        await client.ping()  # loads the slot map
        holding = asyncio.ensure_future(holder())
        await asyncio.sleep(0.05)
        await asyncio.gather(waiter(), holding)
        assert served == ["waiter", "holder"]
        node = client.get_node_from_key(key)
        assert len(node._connections) == 1  # the bound held: nobody failed, nobody added one
    finally:
        await client.aclose()


async def test_a_cluster_node_gives_up_after_the_pool_timeout_without_a_slot_refresh(
    redis_cluster: RedisClusterNodes, cluster_admin: Any, key_prefix: str
) -> None:
    client = cluster_client(redis_cluster, size=1, timeout=0.05)
    key = f"{key_prefix}:q"
    try:
        await client.ping()
        busy = asyncio.ensure_future(client.blpop([key], timeout=0.5))
        await asyncio.sleep(0.05)
        with pytest.raises(MaxConnectionsError, match="No connection available"):
            await client.get(key)
        # A full pool is not a failed node: the slot map is kept, the connection too.
        assert client._initialize is False
        await busy
        assert await client.get(key) is None
    finally:
        await client.aclose()
