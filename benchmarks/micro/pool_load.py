"""CPU per ``AsyncRedisStore.load`` under three connection pools.

docs/benchmarks.md (*Hot-path changes*): ``AsyncRedisStore.from_url()`` builds an
``AsyncWaitingPool``, which takes a free connection without redis-py's
``BlockingConnectionPool`` condition and timer. This loads one logged-in session through a
store on each pool (and on redis-py's plain, non-waiting pool for reference)::

    python -m benchmarks.micro.pool_load --redis-url redis://127.0.0.1:6390/0

prints CPU µs per load for each pool: the best of ``--repeat`` runs of ``--calls`` loads.
It creates one session per pool under ``--prefix`` (default ``micro-pool``) and deletes them at
the end.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio
from redis.asyncio import BlockingConnectionPool, ConnectionPool

from benchmarks._cpu import logged_in_load
from benchmarks.micro._timing import best_cpu_us, run_micro
from sessionary.backends.redis._pool import AsyncWaitingPool
from sessionary.sansio.ops import Load
from sessionary.stores import AsyncRedisStore

POOLS: dict[str, Any] = {
    "BlockingConnectionPool": BlockingConnectionPool,
    "AsyncWaitingPool": AsyncWaitingPool,
    "ConnectionPool (plain, never waits)": ConnectionPool,
}


async def measure(url: str, *, calls: int, repeat: int, prefix: str) -> dict[str, float]:
    """CPU µs per load, per pool."""
    results = {}
    for index, (name, pool_class) in enumerate(POOLS.items()):
        pool = pool_class.from_url(url, max_connections=10)
        client = redis.asyncio.Redis.from_pool(pool)
        store = AsyncRedisStore(client, prefix=f"{prefix}-{index}")
        try:
            await store.warm_up()
            op = await logged_in_load(store)

            async def load(store: AsyncRedisStore = store, op: Load = op) -> None:
                await store.load(op)

            results[name] = await best_cpu_us(load, calls=calls, repeat=repeat)
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}-{index}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()
    return results


def main(argv: list[str] | None = None) -> int:
    options = {"prefix": "micro-pool"}
    return run_micro(
        argv, __doc__, measure, options=options, label="AsyncRedisStore.load with {name}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
