"""The local cache (docs/cache.md) across instances: staleness, hit rates, invalidations.

* **Staleness**: instance A (this process) and instance B (a second process, with its own
  cache, event loop and interpreter) share a session; B reads the cookie in a loop (served
  from its memory) while A logs out. Per trial, how long after A's logout returned B still
  accepted the old cookie: the start of B's last read that found the session, minus the
  moment A's logout returned (0 when B's first read after it already refused).
  ``time.monotonic`` is the system-wide monotonic clock on Linux, so the two processes'
  times compare. Every trial is counted; a read that started more than the staleness bound
  after the logout and still found the session is a *late* read (the cache promises none).
* **Hit rate across instances**: four cached instances (four stores, one event loop) share
  a set of sessions; each request picks a session at random and, one time in ten, writes
  to it. *Round robin* sends request ``i`` to instance ``i mod 4``; *sticky* sends every
  request of a session to one instance. The hit rate is over the loads that reached the
  caches; *invalidation messages per write* counts the ``invalidate`` messages the four
  tracking connections received, per write (one per instance and write, fewer when Redis
  merges changes made in one of its event-loop turns).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import secrets
import statistics
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from sessionary import AsyncSessionManager, SessionConfig, SessionManager
from sessionary.stores import AsyncCachingStore, AsyncRedisStore, CachingStore, RedisStore

INSTANCES = 4
WRITE_EVERY = 10
"""One request in ``WRITE_EVERY`` writes to its session (the others only read)."""
WINDOW_S = 0.05
"""How long B goes on reading after A's logout returned, per staleness trial."""
LOADS = ("hit", "miss", "miss_touch", "bypass")


@dataclass
class CacheFigures:
    """What :func:`measure` found."""

    bound_ms: float
    trials: int
    staleness_ms: dict[str, float]
    """p50, p99 and max over the trials."""
    late_reads: int
    failed_trials: int
    """Trials in which B never refused the old cookie within the window (should be 0)."""
    sessions: int
    requests: int
    hit_rate: dict[str, float]
    """By routing: ``round_robin``, ``sticky``."""
    messages_per_write: dict[str, float]
    """Invalidation messages received by all instances per write, by routing."""
    bypassed: dict[str, float]
    """Share of the loads that bypassed the caches (stream not confirmed within the bound)."""


# ----------------------------------------------------------------------------- staleness
def _found(manager: SessionManager, cookie: str) -> bool:
    cycle = manager.open([cookie])
    user = cycle.session.user_id
    manager.commit(cycle)
    return user is not None


def _reader(url: str, prefix: str, secret: bytes, bound_ms: float, pipe: Connection) -> None:
    """Instance B, in its own process: warm the cookie, then read it for a window."""
    store = CachingStore(RedisStore.from_url(url, prefix=prefix), staleness_ms=bound_ms)
    manager = SessionManager(store, SessionConfig(secret_keys=[secret]))
    try:
        pipe.send("ready")
        while (cookie := pipe.recv()) is not None:
            for _ in range(500):  # until B answers it from memory
                hits = store.stats.get("hit", 0)
                _found(manager, cookie)
                if store.stats.get("hit", 0) > hits:
                    break
            pipe.send("warm")
            reads = []
            while not pipe.poll():  # until A says its logout is well past the bound
                started = time.monotonic()
                reads.append((started, _found(manager, cookie)))
            pipe.recv()
            pipe.send(reads)
    finally:
        store.close()


def _staleness(
    url: str, prefix: str, secret: bytes, bound_ms: float, trials: int
) -> tuple[list[float], int, int]:
    """Per trial, how long B accepted the cookie after A's logout; late reads; failures."""
    store = CachingStore(RedisStore.from_url(url, prefix=prefix), staleness_ms=bound_ms)
    manager = SessionManager(store, SessionConfig(secret_keys=[secret]))
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_reader, args=(url, prefix, secret, bound_ms, theirs))
    process.start()
    delays: list[float] = []
    late = failed = 0
    try:
        if not ours.poll(60) or ours.recv() != "ready":
            raise RuntimeError("the reader process did not start")
        for _ in range(trials):
            cycle = manager.open([])
            cycle.session.login("bench")
            set_cookie = manager.commit(cycle).set_cookie
            assert set_cookie is not None
            cookie = set_cookie.split(";", 1)[0]
            ours.send(cookie)
            assert ours.recv() == "warm"
            cycle = manager.open([cookie])
            cycle.session.logout()
            manager.commit(cycle)
            done = time.monotonic()
            while time.monotonic() < done + WINDOW_S:
                time.sleep(WINDOW_S / 10)
            ours.send("stop")
            reads: list[tuple[float, bool]] = ours.recv()
            accepted = [started - done for started, found in reads if found]
            if not any(not found and started >= done for started, found in reads):
                failed += 1
                continue
            delays.append(max([0.0, *accepted]))
            late += sum(1 for after in accepted if after > bound_ms / 1000)
    finally:
        ours.send(None)
        process.join(30)
        if process.is_alive():
            process.kill()
        store.close()
    return delays, late, failed


# ------------------------------------------------------------------------ hit rates
async def _login(manager: AsyncSessionManager, user: str) -> str:
    cycle = await manager.open([])
    cycle.session.login(user)
    set_cookie = (await manager.commit(cycle)).set_cookie
    assert set_cookie is not None
    return set_cookie.split(";", 1)[0]


def _loads(stores: list[AsyncCachingStore]) -> tuple[int, int, int, int]:
    """Hits, loads, bypasses and invalidation messages so far, over every instance."""
    hits = sum(s.stats.get("hit", 0) for s in stores)
    loads = sum(s.stats.get(k, 0) for s in stores for k in LOADS)
    bypasses = sum(s.stats.get("bypass", 0) for s in stores)
    return hits, loads, bypasses, sum(s.tracker.messages for s in stores)


async def _routing(
    managers: list[AsyncSessionManager],
    stores: list[AsyncCachingStore],
    cookies: list[str],
    requests: int,
    *,
    sticky: bool,
) -> tuple[float, float, float]:
    """(hit rate, invalidation messages per write, bypassed share) of one routing."""
    pick = random.Random(16)  # the same sessions in the same order for both routings
    for index, cookie in enumerate(cookies):  # every instance has seen every session once
        for manager in managers if not sticky else [managers[index % INSTANCES]]:
            await manager.commit(await manager.open([cookie]))
    hits0, loads0, bypasses0, messages0 = _loads(stores)
    writes = 0
    for i in range(requests):
        session = pick.randrange(len(cookies))
        manager = managers[session % INSTANCES if sticky else i % INSTANCES]
        cycle = await manager.open([cookies[session]])
        if i % WRITE_EVERY == 0:
            cycle.session["n"] = [sticky, i]  # a new value: an unchanged one is not written
            writes += 1
        await manager.commit(cycle)
    for _ in range(3):  # the last writes' messages arrive; a poll reads them
        await asyncio.sleep(0.05)
        for store in stores:
            await store.tracker.poll()
    hits, loads, bypasses, messages = _loads(stores)
    loads = max(1, loads - loads0)
    return (
        (hits - hits0) / loads,
        (messages - messages0) / max(1, writes),
        (bypasses - bypasses0) / loads,
    )


async def _hit_rates(
    url: str, prefix: str, secret: bytes, bound_ms: float, sessions: int, requests: int
) -> dict[str, dict[str, float]]:
    """Hit rate, messages per write and bypassed share, each by routing."""
    config = SessionConfig(secret_keys=[secret])
    stores = [
        AsyncCachingStore(AsyncRedisStore.from_url(url, prefix=prefix), staleness_ms=bound_ms)
        for _ in range(INSTANCES)
    ]
    managers = [AsyncSessionManager(store, config) for store in stores]
    figures: dict[str, dict[str, float]] = {"hit_rate": {}, "messages": {}, "bypassed": {}}
    try:
        cookies = [await _login(managers[0], f"user{n}") for n in range(sessions)]
        for routing in ("round_robin", "sticky"):
            measured = await _routing(
                managers, stores, cookies, requests, sticky=routing == "sticky"
            )
            for name, value in zip(figures, measured, strict=True):
                figures[name][routing] = value
    finally:
        for store in stores:
            await store.aclose()
    return figures


# -------------------------------------------------------------------------------- run
def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def measure(
    url: str, prefix: str, *, trials: int, sessions: int, requests: int, bound_ms: float = 5.0
) -> CacheFigures:
    """Every figure of the module, on the Redis at ``url``, keys under ``prefix``."""
    secret = secrets.token_bytes(32)
    delays, late, failed = await asyncio.to_thread(
        _staleness, url, prefix, secret, bound_ms, trials
    )
    rates = await _hit_rates(url, prefix, secret, bound_ms, sessions, requests)
    return CacheFigures(
        bound_ms=bound_ms,
        trials=trials,
        staleness_ms={
            "p50": statistics.median(delays) * 1000 if delays else 0.0,
            "p99": _quantile(delays, 0.99) * 1000,
            "max": max(delays, default=0.0) * 1000,
        },
        late_reads=late,
        failed_trials=failed,
        sessions=sessions,
        requests=requests,
        hit_rate=rates["hit_rate"],
        messages_per_write=rates["messages"],
        bypassed=rates["bypassed"],
    )


def render(figures: CacheFigures) -> list[str]:
    """The Markdown lines of the section."""
    s = figures.staleness_ms
    return [
        "### The local cache across instances",
        "",
        f"Staleness: {figures.trials} trials, instance B (another process) reading the "
        "cookie from its cache in a loop while instance A logs out; per trial, how long "
        "after A's logout returned B still accepted the old cookie (the start of its last "
        f"accepting read). Hit rates: {INSTANCES} cached instances, {figures.sessions} "
        f"sessions, {figures.requests} requests per routing, one in {WRITE_EVERY} a write.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| staleness after a logout, p50 / p99 / max | {s['p50']:.3f} / {s['p99']:.3f} / "
        f"{s['max']:.3f} ms |",
        f"| reads accepted later than the {figures.bound_ms:g} ms bound | "
        f"{figures.late_reads} (trials without a refusal: {figures.failed_trials}) |",
        f"| hit rate, round robin over {INSTANCES} instances | "
        f"{figures.hit_rate['round_robin']:.1%} |",
        f"| hit rate, sticky routing | {figures.hit_rate['sticky']:.1%} |",
        "| loads that bypassed the caches (no confirmation within the bound), round robin / "
        f"sticky | {figures.bypassed['round_robin']:.1%} / {figures.bypassed['sticky']:.1%} |",
        "| invalidation messages per write (all instances), round robin / sticky | "
        f"{figures.messages_per_write['round_robin']:.2f} / "
        f"{figures.messages_per_write['sticky']:.2f} |",
        "",
    ]
