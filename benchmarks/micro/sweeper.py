"""Expirations per second of one expiry sweeper process draining a backlog of expired sessions.

The issue's scale goal for the sweeper (docs/benchmarks.md, *Scale*): how fast one
``AsyncSweeper`` reports sessions that expired. This creates ``--sessions`` sessions through a
manager on a Redis store with ``track_expiry=True`` (a fake clock, so they expire at once when
it moves past the idle timeout, while their Redis keys still live), then runs
``sweep_once()`` passes until every one was reported::

    python -m benchmarks.micro.sweeper --redis-url redis://127.0.0.1:6379/0 --sessions 20000

and prints the passes, the wall time, the sweeper's CPU and the expirations per second (by
wall time and by CPU). Use a Redis nobody else loads. It writes under ``--prefix`` (default
``micro-sweep``) and deletes its keys at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time

from sessionary import AsyncSessionManager, AsyncSweeper, SessionConfig
from sessionary.config import CookieOptions
from sessionary.observability import NullObserver
from sessionary.stores import AsyncRedisStore
from sessionary.testing import FakeClock

_CREATE_CONCURRENCY = 50


async def measure(url: str, *, sessions: int, batch: int, prefix: str) -> dict[str, float]:
    """Create ``sessions`` sessions, expire them all, time the sweeper draining them."""
    clock = FakeClock()
    config = SessionConfig(
        secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions(), clock=clock
    )
    store = AsyncRedisStore.from_url(url, prefix=prefix, track_expiry=True)
    manager = AsyncSessionManager(store, config, observer=NullObserver())
    sweeper = AsyncSweeper(manager, batch=batch)
    try:
        started = time.perf_counter()

        async def create() -> None:
            cycle = await manager.open([])
            cycle.session["n"] = 1
            await manager.commit(cycle)

        for first in range(0, sessions, _CREATE_CONCURRENCY):
            count = min(_CREATE_CONCURRENCY, sessions - first)
            await asyncio.gather(*(create() for _ in range(count)))
        created = time.perf_counter() - started
        clock.advance(config.idle_timeout_ms / 1000 + 1)
        passes = reported = 0
        wall, cpu = time.perf_counter(), time.process_time()
        while reported < sessions:
            found = await sweeper.sweep_once()
            passes += 1
            reported += found
            if not found:
                break
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        client = store.client
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        for first in range(0, len(keys), 1000):
            await client.delete(*keys[first : first + 1000])
        await store.aclose()
    return {
        "sessions": sessions,
        "created_s": created,
        "reported": reported,
        "passes": passes,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="the sweeper's batch size")
    parser.add_argument("--prefix", default="micro-sweep")
    args = parser.parse_args(argv)
    result = asyncio.run(
        measure(args.redis_url, sessions=args.sessions, batch=args.batch, prefix=args.prefix)
    )
    wall, cpu, reported = result["wall_s"], result["cpu_s"], result["reported"]
    print(f"created {result['sessions']:.0f} sessions in {result['created_s']:.1f} s")
    print(
        f"swept {reported:.0f} expirations in {result['passes']:.0f} passes: "
        f"{wall:.2f} s wall, {cpu:.2f} s sweeper CPU"
    )
    print(f"expirations/s: {reported / wall:.0f} by wall time, {reported / cpu:.0f} by CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
