"""The local cache: hot reads with and without it, and how long a logout elsewhere takes to show.

Two figures, on a real Redis, through the asyncio manager (open and commit of a logged-in
session that only reads)::

    python -m benchmarks.micro.cache --calls 2000 --trials 200

* **hot read**: wall-clock µs per request with ``AsyncCachingStore`` and with the bare
  ``AsyncRedisStore`` (best of ``--repeat`` runs of ``--calls`` requests), and the cache's
  hit ratio over those requests;
* **staleness**: two instances (two cached stores, one event loop) share the session;
  instance A logs out, instance B reads the old cookie in a loop. Per trial, the time from
  A's logout returning to the start of B's first read that refuses it; p50, p99 and max
  over ``--trials`` trials, and how many of B's reads that started later than the
  staleness bound still found the session (the cache promises none).
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from typing import Any

from benchmarks.micro._timing import redis_parser
from sessionary import AsyncSessionManager, SessionConfig
from sessionary.stores import AsyncCachingStore, AsyncRedisStore


async def _request(manager: AsyncSessionManager, cookie: str | None, action: str = "") -> Any:
    name = manager.config.cookie.name
    cycle = await manager.open([f"{name}={cookie}"] if cookie else [])
    user = cycle.session.user_id
    if action == "login":
        cycle.session.login("bench")
    elif action == "logout":
        cycle.session.logout()
    update = await manager.commit(cycle)
    if action == "login":
        assert update.set_cookie is not None
        return update.set_cookie.split(";", 1)[0].split("=", 1)[1]
    return user


async def _hot_read_us(
    manager: AsyncSessionManager, cookie: str, *, calls: int, repeat: int
) -> float:
    for _ in range(min(200, calls)):
        await _request(manager, cookie)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            await _request(manager, cookie)
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e6


async def _staleness(
    a: AsyncSessionManager, b: AsyncSessionManager, bound_s: float, trials: int
) -> tuple[list[float], int]:
    delays: list[float] = []
    late = 0
    for _ in range(trials):
        cookie = await _request(a, None, "login")
        for _ in range(20):  # B serves it from memory by now
            await _request(b, cookie)
        await _request(a, cookie, "logout")
        changed = time.perf_counter()
        while True:
            started = time.perf_counter()
            if await _request(b, cookie) is None:
                delays.append(started - changed)
                break
            if started - changed > bound_s:
                late += 1
    return delays, late


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    url: str, *, calls: int, repeat: int, trials: int, bound_ms: float
) -> dict[str, Any]:
    """The figures the script prints (see the module)."""
    prefix = f"bench-cache-{secrets.token_hex(4)}"
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)])
    bare = AsyncRedisStore.from_url(url, prefix=prefix)
    first = AsyncCachingStore(AsyncRedisStore.from_url(url, prefix=prefix), staleness_ms=bound_ms)
    second = AsyncCachingStore(AsyncRedisStore.from_url(url, prefix=prefix), staleness_ms=bound_ms)
    a, b = AsyncSessionManager(first, config), AsyncSessionManager(second, config)
    try:
        cookie = await _request(a, None, "login")
        raw_us = await _hot_read_us(
            AsyncSessionManager(bare, config), cookie, calls=calls, repeat=repeat
        )
        hits_before = sum(first.stats.get(k, 0) for k in ("hit",))
        loads_before = sum(first.stats.get(k, 0) for k in ("hit", "miss", "miss_touch", "bypass"))
        cached_us = await _hot_read_us(a, cookie, calls=calls, repeat=repeat)
        hits = first.stats.get("hit", 0) - hits_before
        loads = (
            sum(first.stats.get(k, 0) for k in ("hit", "miss", "miss_touch", "bypass"))
            - loads_before
        )
        delays, late = await _staleness(a, b, bound_ms / 1000, trials)
    finally:
        keys = [key async for key in bare.client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await bare.client.delete(*keys)
        await first.aclose()
        await second.aclose()
        await bare.aclose()
    return {
        "raw_us": raw_us,
        "cached_us": cached_us,
        "hit_ratio": hits / loads if loads else 0.0,
        "p50_ms": statistics.median(delays) * 1000,
        "p99_ms": _quantile(delays, 0.99) * 1000,
        "max_ms": max(delays) * 1000,
        "late": late,
        "trials": trials,
    }


def main(argv: list[str] | None = None) -> int:
    parser = redis_parser(__doc__)
    parser.set_defaults(calls=2000)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--bound-ms", type=float, default=5.0)
    args = parser.parse_args(argv)
    r = asyncio.run(
        measure(
            args.redis_url,
            calls=args.calls,
            repeat=args.repeat,
            trials=args.trials,
            bound_ms=args.bound_ms,
        )
    )
    print(f"hot read, bare Redis store: {r['raw_us']:.1f} µs per request")
    cached, ratio = r["cached_us"], r["hit_ratio"]
    print(f"hot read, with the cache: {cached:.1f} µs per request (hit ratio {ratio:.3f})")
    print(
        f"staleness over {r['trials']} logouts: p50 {r['p50_ms']:.3f} ms, "
        f"p99 {r['p99_ms']:.3f} ms, max {r['max_ms']:.3f} ms; "
        f"reads served after the {args.bound_ms:g} ms bound: {r['late']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
