"""A fixed number of ``AsyncRedisStore.load`` (or bare ``HGETALL``) calls, nothing else timed.

For instruction counts under valgrind (deterministic on a loaded machine, where timings are
not): the client's instructions per call are the difference of two runs, ``--calls 2200``
minus ``--calls 200``, divided by 2 000 (start-up and set-up cancel out)::

    valgrind --tool=callgrind --callgrind-out-file=/tmp/load-2200.out \\
        python -m benchmarks.micro.load_calls --redis-url redis://127.0.0.1:6379/0 \\
        --mode load --calls 2200

``--mode hgetall`` gives the floor (redis-py's ``HGETALL`` of the same record). The session
is the benchmark's logged-in one (``benchmarks._cpu.logged_in_load``), created under
``--prefix`` and deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio

import redis.asyncio

from benchmarks._cpu import logged_in_load
from sessionary.backends.redis._pool import AsyncWaitingPool
from sessionary.stores import AsyncRedisStore


async def run(url: str, *, mode: str, calls: int, prefix: str) -> None:
    """Warm up, then make ``calls`` calls of ``mode`` one at a time."""
    client = redis.asyncio.Redis.from_pool(AsyncWaitingPool.from_url(url, max_connections=10))
    store = AsyncRedisStore(client, prefix=prefix)
    try:
        await store.warm_up()
        op = await logged_in_load(store)
        key = store.layout.session_key(op.key)
        for _ in range(20):
            await store.load(op)
            await client.hgetall(key)
        if mode == "load":
            for _ in range(calls):
                await store.load(op)
        else:
            for _ in range(calls):
                await client.hgetall(key)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--mode", choices=("load", "hgetall"), default="load")
    parser.add_argument("--calls", type=int, default=2200)
    parser.add_argument("--prefix", default="micro-load-calls")
    args = parser.parse_args(argv)
    asyncio.run(run(args.redis_url, mode=args.mode, calls=args.calls, prefix=args.prefix))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
