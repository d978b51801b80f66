"""Expirations per second of one expiry sweeper process draining a backlog of expired sessions.

The issue's scale goal for the sweeper (docs/benchmarks.md, *Scale*): how fast one
``AsyncSweeper`` reports sessions that expired. This creates one session through a manager
on a Redis store with ``track_expiry=True`` and copies its record (``DUMP``/``RESTORE``, TTL
kept) under ``--sessions`` random storage keys, each scheduled in its bucket as a create
schedules it (a fake clock, so they expire at once when it moves past the idle timeout,
while their Redis keys still live); then it runs ``sweep_once()`` passes until every one
was reported::

    python -m benchmarks.micro.sweeper --redis-url redis://127.0.0.1:6379/0 --sessions 1000000

and prints the passes, the wall time, the sweeper's CPU and the expirations per second (by
wall time and by CPU). ``--events`` publishes the events to a Redis stream on the same
server, as a deployment would. Use a Redis nobody else loads (standalone: the copies are
made by a script). It writes under ``--prefix`` (default ``micro-sweep``) and deletes its
keys at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections import defaultdict
from typing import Any

from sessionary import AsyncSessionManager, AsyncSweeper, SessionConfig
from sessionary.backends.redis._users import due_bucket
from sessionary.config import CookieOptions
from sessionary.observability import NullObserver
from sessionary.stores import AsyncRedisEventStream, AsyncRedisStore
from sessionary.testing import FakeClock

_COPIES_PER_CALL = 1000

_COPY_SCRIPT = """
-- KEYS[1] due bucket, KEYS[2] its info hash; ARGV: session key prefix, DUMP of the
-- template record, its TTL ms, the schedule score, the info, then the new storage keys
for i = 6, #ARGV do
  redis.call('RESTORE', ARGV[1] .. ARGV[i] .. '}', ARGV[3], ARGV[2], 'REPLACE')
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[5])
end
return #ARGV - 5
"""


async def fill(store: AsyncRedisStore, sessions: int) -> None:
    """Copy the one session stored under ``sessions`` new keys, each scheduled."""
    client: Any = store.client
    layout = store.layout
    (template,) = [
        bytes(member).decode()
        for number in range(store.due_buckets)
        for member in await client.zrange(layout.due_key(number), 0, -1)
    ]
    key = layout.session_key(template)
    dump, ttl = await client.dump(key), await client.pttl(key)
    bucket = due_bucket(template, store.due_buckets)
    score = (await client.zscore(layout.due_key(bucket), template)) or 0
    info = (await client.hget(layout.due_info_key(bucket), template)) or b""
    by_bucket: dict[int, list[str]] = defaultdict(list)
    for _ in range(sessions):
        new = secrets.token_urlsafe(16)
        by_bucket[due_bucket(new, store.due_buckets)].append(new)
    for number, keys in by_bucket.items():
        due, due_info = layout.due_key(number), layout.due_info_key(number)
        for first in range(0, len(keys), _COPIES_PER_CALL):
            chunk = keys[first : first + _COPIES_PER_CALL]
            args = [layout.session_prefix, dump, ttl, int(score), info, *chunk]
            await client.eval(_COPY_SCRIPT, 2, due, due_info, *args)


async def measure(
    url: str, *, sessions: int, batch: int, prefix: str, events: bool = False
) -> dict[str, float]:
    """Create ``sessions`` sessions, expire them all, time the sweeper draining them."""
    clock = FakeClock()
    config = SessionConfig(
        secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions(), clock=clock
    )
    store = AsyncRedisStore.from_url(url, prefix=prefix, track_expiry=True, timeout=10)
    stream = AsyncRedisEventStream(store, maxlen=sessions + 100) if events else None
    manager = AsyncSessionManager(store, config, observer=NullObserver(), events=stream)
    sweeper = AsyncSweeper(manager, batch=batch)
    try:
        started = time.perf_counter()
        cycle = await manager.open([])
        cycle.session["n"] = 1
        await manager.commit(cycle)
        await fill(store, sessions - 1)
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
    parser.add_argument(
        "--events", action="store_true", help="publish the events to a Redis stream too"
    )
    args = parser.parse_args(argv)
    result = asyncio.run(
        measure(
            args.redis_url,
            sessions=args.sessions,
            batch=args.batch,
            prefix=args.prefix,
            events=args.events,
        )
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
