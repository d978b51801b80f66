"""CPU of one ``AsyncRedisStore.load`` against a bare ``HGETALL``: the Lua-free read.

docs/benchmarks.md (*The read path without Lua*): a read is one ``HGETALL`` judged in the
client, with the user's epoch ``GET`` written on the same connection when the store knows
the record's user tag (:mod:`sessionary.backends.redis._reads`); the load script runs only
for an expired record. This times, on one logged-in session (the benchmark's: a user, a
counter, a small profile), over a pool like the one ``AsyncRedisStore.from_url()`` builds::

    python -m benchmarks.micro.load_path --redis-url redis://127.0.0.1:6379/0

* ``HGETALL`` (redis-py, the raw handler's read): the floor;
* ``load, read path``: the store's load as it is now (one round trip, no script);
* ``load, load script``: the same load through the Lua script every load used before
  (``EVALSHA``: the read, the epoch ``GET`` and the checks in Redis);

as client CPU µs per call, one call at a time: ``--calls`` calls of each, in chunks taken in
turn (so that the three meet the same conditions on a shared machine), the best chunk of each;
``--repeat`` such rounds, the best of them. Each load finds the session (``FOUND``, touch not
due). Then, for each load, the Redis server's CPU per call over ``--calls`` calls (lines
``Redis, ...``: meaningful on a private server only). It creates one session under
``--prefix`` (default ``micro-load``) and deletes it at the end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis.asyncio

from benchmarks._cpu import _timed_interleaved, logged_in_load
from benchmarks.micro._timing import run_micro
from sessionary.backends.redis._pool import AsyncWaitingPool
from sessionary.sansio.ops import LoadStatus
from sessionary.stores import AsyncRedisStore


async def measure(url: str, *, calls: int, repeat: int, prefix: str) -> dict[str, float]:
    """CPU µs per call of each way to read the session."""
    client = redis.asyncio.Redis.from_pool(AsyncWaitingPool.from_url(url, max_connections=10))
    store = AsyncRedisStore(client, prefix=prefix)
    try:
        await store.warm_up()
        op = await logged_in_load(store)
        key = store.layout.session_key(op.key)
        for result in (await store.load(op), await store._load_by_script(op)):
            assert result.status is LoadStatus.FOUND, result
            assert result.record is not None
            assert not result.record.touched

        async def hgetall(_: int) -> None:
            await client.hgetall(key)

        async def read_path(_: int) -> None:
            await store.load(op)

        async def load_script(_: int) -> None:
            await store._load_by_script(op)

        calls_of: dict[str, Callable[[int], Awaitable[None]]] = {
            "HGETALL": hgetall,
            "load, read path": read_path,
            "load, load script": load_script,
        }
        best = dict.fromkeys(calls_of, float("inf"))
        for _ in range(repeat):
            for name, micros in (await _timed_interleaved(calls, calls_of)).items():
                best[name] = min(best[name], micros)
        for name in ("load, read path", "load, load script"):
            best[f"Redis, {name}"] = await _server_usec(client, calls_of[name], calls)
        return best
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def _server_usec(
    client: redis.asyncio.Redis, call: Callable[[int], Awaitable[None]], calls: int
) -> float:
    """Redis's CPU per call (``INFO cpu``: user + system time of the server process, its
    network work included) over ``calls`` calls; other clients of a shared server add
    theirs, so use a private server for these lines."""

    async def used() -> float:
        cpu = await client.info("cpu")
        return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])

    before = await used()
    for index in range(calls):
        await call(index)
    return (await used() - before) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    return run_micro(argv, __doc__, measure, options={"prefix": "micro-load"})


if __name__ == "__main__":
    raise SystemExit(main())
