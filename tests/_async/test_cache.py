"""The local cache (``AsyncCachingStore``) on real Redis: hits, coherence, bounds, failures.

Two cached stores sharing one Redis stand for two application instances: one logs out,
revokes or rotates while the other reads the old cookie in a loop; no read that starts
later than the staleness bound after the change may see the old state. A Redis restart
(a private server, stopped and started again on its port) flushes the cache and serves
nothing stale.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis

from sessionary import AsyncSessionManager, SessionConfig
from sessionary.backends.redis._async.tracking import async_tracking_connection
from sessionary.sansio.ops import CommitResult, Update
from sessionary.sansio.session import Session
from sessionary.stores import AsyncCachingStore, AsyncRedisStore
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests.redis_counting import AsyncCountingRedis
from tests.services import RedisServer, redis_server_binary

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

BOUND_MS = 5.0


async def cached_store(url: str, prefix: str, **options: Any) -> AsyncCachingStore:
    return AsyncCachingStore(AsyncRedisStore.from_url(url, prefix=prefix), **options)


@pytest.fixture
async def pair(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> AsyncIterator[tuple[AsyncCachingStore, AsyncCachingStore]]:
    """Two instances: two cached stores, each with its own clients, on one Redis."""
    first = await cached_store(redis_url, key_prefix, staleness_ms=BOUND_MS)
    second = await cached_store(redis_url, key_prefix, staleness_ms=BOUND_MS)
    yield first, second
    await first.aclose()
    await second.aclose()


async def request(
    manager: AsyncSessionManager, cookie: str | None, handler: Callable[[Session], Any] = id
) -> tuple[str | None, str | None]:
    """One request with ``cookie``: (the user it found, the cookie it sets, if any)."""
    name = manager.config.cookie.name
    cycle = await manager.open([f"{name}={cookie}"] if cookie else [])
    user = cycle.session.user_id
    handler(cycle.session)
    update = await manager.commit(cycle)
    new = None
    if update.set_cookie is not None:
        new = update.set_cookie.split(";", 1)[0].split("=", 1)[1] or None
    return (None if user is None else str(user)), new


def setting(name: str, value: object) -> Callable[[Session], None]:
    def handler(session: Session) -> None:
        session[name] = value

    return handler


async def logged_in(manager: AsyncSessionManager, user: str = "alice") -> str:
    _, cookie = await request(manager, None, lambda s: s.login(user))
    assert cookie is not None
    return cookie


async def warm(manager: AsyncSessionManager, store: AsyncCachingStore, cookie: str) -> None:
    """Read until the session is served from memory."""
    for _ in range(200):
        before = store.stats.get("hit", 0)
        assert (await request(manager, cookie))[0] == "alice"
        if store.stats.get("hit", 0) > before:
            return
    pytest.fail(f"never served from the cache: {store.stats}")


async def reads_after(
    manager: AsyncSessionManager, cookie: str, changed_at: float, seconds: float = 0.05
) -> list[tuple[float, str | None]]:
    """Read ``cookie`` in a loop: (start of the read minus ``changed_at``, user found)."""
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        seen.append((started - changed_at, (await request(manager, cookie))[0]))
    return seen


def assert_none_served_after_the_bound(
    seen: list[tuple[float, str | None]], bound_ms: float = BOUND_MS
) -> None:
    late = [(round(at * 1000, 3), user) for at, user in seen if at > bound_ms / 1000 and user]
    assert not late, f"old state served after the bound (ms after the change, user): {late}"
    assert seen[-1][1] is None


async def instances(
    pair: tuple[AsyncCachingStore, AsyncCachingStore],
) -> tuple[AsyncSessionManager, AsyncSessionManager]:
    config = session_config()
    return AsyncSessionManager(pair[0], config), AsyncSessionManager(pair[1], config)


async def watched(
    pair: tuple[AsyncCachingStore, AsyncCachingStore],
) -> tuple[AsyncSessionManager, AsyncSessionManager, str]:
    """Instance A logs in; instance B serves the session from its cache."""
    a, b = await instances(pair)
    cookie = await logged_in(a)
    await warm(b, pair[1], cookie)
    return a, b, cookie


async def test_a_hot_session_is_served_from_memory(
    pair: tuple[AsyncCachingStore, AsyncCachingStore],
) -> None:
    a, _ = await instances(pair)
    store = pair[0]
    cookie = await logged_in(a)
    await warm(a, store, cookie)
    hits = store.stats["hit"]
    loads = store.stats.get("miss", 0) + store.stats.get("bypass", 0)
    for _ in range(20):
        assert (await request(a, cookie))[0] == "alice"
    # Mostly hits: a read now and then finds the liveness check not yet answered.
    assert store.stats["hit"] - hits >= 10
    assert store.stats.get("miss", 0) + store.stats.get("bypass", 0) - loads <= 10
    assert len(store) == 1


async def test_logout_on_one_instance_is_seen_by_the_other_within_the_bound(
    pair: tuple[AsyncCachingStore, AsyncCachingStore],
) -> None:
    a, b, cookie = await watched(pair)
    messages = pair[1].tracker.messages
    await request(a, cookie, lambda s: s.logout())
    seen = await reads_after(b, cookie, time.monotonic())
    assert_none_served_after_the_bound(seen)
    assert pair[1].stats.get("invalidated", 0) >= 1
    assert pair[1].tracker.messages > messages  # the logout's invalidation, counted


async def test_log_out_everywhere_is_seen_by_the_other_within_the_bound(
    pair: tuple[AsyncCachingStore, AsyncCachingStore],
) -> None:
    a, b, cookie = await watched(pair)
    assert await a.revoke_user("alice") >= 1
    seen = await reads_after(b, cookie, time.monotonic())
    assert_none_served_after_the_bound(seen)


async def test_a_new_user_epoch_alone_drops_the_users_entries(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    # A bound of a second: within the 100 ms of reads below only the server's message about
    # the epoch can retire the entry (no bypass reloads it). The message is read by the first
    # load after it arrives (within a loopback round trip; 25 ms allow for a loaded machine).
    reader = await cached_store(redis_url, key_prefix, staleness_ms=1000)
    writer = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    manager = AsyncSessionManager(reader, session_config())
    try:
        await writer.client.ping()  # connected before the timed part
        cookie = await logged_in(manager)
        await warm(manager, reader, cookie)
        (record,) = [entry for entry, _ in reader._lru._entries.values()]
        assert record.meta.user_key is not None
        # Only the epoch moves (as "log out everywhere" does): the session hash is untouched.
        epoch_key = reader.inner.layout.user_epoch_key(record.meta.user_key)
        bypassed = reader.stats.get("bypass", 0)
        await writer.client.set(epoch_key, int(time.time() * 1000) + 60_000)
        seen = await reads_after(manager, cookie, time.monotonic(), seconds=0.1)
        assert_none_served_after_the_bound(seen, bound_ms=25)
        assert reader.stats.get("bypass", 0) == bypassed
    finally:
        await reader.aclose()
        await writer.aclose()


async def test_a_rotation_retires_the_old_cookie_on_the_other_instance(
    pair: tuple[AsyncCachingStore, AsyncCachingStore],
) -> None:
    a, b, cookie = await watched(pair)
    _, rotated = await request(a, cookie, lambda s: s.rotate())
    assert rotated is not None
    assert rotated != cookie
    seen = await reads_after(b, cookie, time.monotonic())
    assert_none_served_after_the_bound(seen)
    assert (await request(b, rotated))[0] == "alice"


async def test_own_writes_are_read_back_at_once(
    pair: tuple[AsyncCachingStore, AsyncCachingStore],
) -> None:
    a, _ = await instances(pair)
    cookie = await logged_in(a)
    await warm(a, pair[0], cookie)
    for n in range(5):
        await request(a, cookie, setting("n", n))
        name = a.config.cookie.name
        cycle = await a.open([f"{name}={cookie}"])
        assert cycle.session.get("n") == n
        await a.commit(cycle)


@asynccontextmanager
async def counted_cached_store(
    url: str, prefix: str, **options: Any
) -> AsyncIterator[tuple[AsyncCachingStore, AsyncCountingRedis, AsyncSessionManager]]:
    """A cached store whose client counts the commands of the loads and writes.

    The tracking connection is made from another client, so its pings and read-backs are
    not counted: what is counted is what a request waits for.
    """
    client = AsyncCountingRedis.from_url(url)
    assert isinstance(client, AsyncCountingRedis)
    plain = AsyncRedisStore.from_url(url, prefix=prefix)
    store = AsyncCachingStore(
        AsyncRedisStore(client, prefix=prefix),
        connect=lambda: async_tracking_connection(plain.client),
        **options,
    )
    try:
        yield store, client, AsyncSessionManager(store, session_config())
    finally:
        await store.aclose()
        await plain.aclose()
        await client.aclose()


def served_from_memory(store: AsyncCachingStore, before: dict[str, int]) -> bool:
    """Whether the last load was a hit, or would have been but for the machine's slowness.

    On a loaded machine the confirmation a load asks for may come back later than the bound;
    the load then goes to Redis (``confirm`` then ``bypass``), as the bound requires.
    """
    moved = {k: v - before.get(k, 0) for k, v in store.stats.items() if v != before.get(k, 0)}
    return moved.get("hit") == 1 or (moved.get("confirm") == 1 and moved.get("bypass") == 1)


async def value_of(manager: AsyncSessionManager, cookie: str, name: str = "n") -> Any:
    """One request that only reads: the value of ``name`` it found."""
    cycle = await manager.open([f"{manager.config.cookie.name}={cookie}"])
    value = cycle.session.get(name)
    await manager.commit(cycle)
    return value


async def test_own_commits_fill_the_cache_so_the_next_read_costs_no_round_trip(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    # A bound of a second keeps liveness pings out of the picture (they have tests of their
    # own below): only what the write left in the cache is measured.
    async with counted_cached_store(redis_url, key_prefix, staleness_ms=1000) as (
        store,
        client,
        manager,
    ):
        cookie = await logged_in(manager)
        await warm(manager, store, cookie)
        for n in range(5):
            await request(manager, cookie, setting("n", n))
            # The read-back's answer precedes this ping's on the tracking connection.
            await store.tracker.confirm(time.monotonic())
            sent, hits = len(client.sent), store.stats["hit"]
            assert await value_of(manager, cookie) == n
            assert len(client.sent) == sent, client.sent[sent:]  # not one command
            assert store.stats["hit"] == hits + 1
        assert store.stats["filled"] >= 5


async def test_a_write_elsewhere_retires_a_filled_entry_within_the_bound(
    pair: tuple[AsyncCachingStore, AsyncCachingStore],
) -> None:
    a, b = await instances(pair)
    first = pair[0]
    cookie = await logged_in(a)
    await warm(a, first, cookie)
    for n in range(5):
        await request(a, cookie, setting("n", n))
        await first.tracker.confirm(time.monotonic())
        assert len(first) == 1, first.stats  # the record A wrote, cached by its commit
        before = dict(first.stats)
        assert await value_of(a, cookie) == n
        assert served_from_memory(first, before), (before, first.stats)
        await request(b, cookie, setting("n", 100 + n))  # instance B writes
        changed_at = time.monotonic()
        seen = []
        while time.monotonic() < changed_at + 0.05:
            started = time.monotonic()
            seen.append((started - changed_at, await value_of(a, cookie)))
        late = [(round(at * 1000, 3), v) for at, v in seen if at > BOUND_MS / 1000 and v == n]
        assert not late, f"A served its own older write after the bound: {late}"
        assert seen[-1][1] == 100 + n


class Interleaved(AsyncRedisStore):
    """A Redis store that runs ``between`` right after its next update's reply came back."""

    between: Callable[[], Awaitable[None]] | None = None

    async def update(self, op: Update) -> CommitResult:
        result = await super().update(op)
        hook, self.between = self.between, None
        if hook is not None:
            await hook()
        return result


async def test_a_logout_elsewhere_between_an_own_write_and_its_read_back_is_not_hidden(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    # The worst case for a cache filled by its own commits: another instance ends the
    # session after this write and before its record is read back. The server's message for
    # that logout may be indistinguishable from this write's own; what is cached must be
    # what the server holds after both (nothing), never the record this instance wrote.
    inner = Interleaved.from_url(redis_url, prefix=key_prefix)
    assert isinstance(inner, Interleaved)
    first = AsyncCachingStore(inner, staleness_ms=BOUND_MS)
    second = await cached_store(redis_url, key_prefix, staleness_ms=BOUND_MS)
    a, b = await instances((first, second))
    try:
        for _ in range(3):
            cookie = await logged_in(a)
            await warm(a, first, cookie)
            filled = first.stats.get("filled", 0)

            async def logout_elsewhere(cookie: str = cookie) -> None:
                await request(b, cookie, lambda s: s.logout())

            inner.between = logout_elsewhere
            await request(a, cookie, setting("n", 1))
            changed_at = time.monotonic()
            seen = await reads_after(a, cookie, changed_at)
            assert_none_served_after_the_bound(seen)
            assert first.stats.get("filled", 0) == filled  # the read-back found no record
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_stale_confirmation_is_renewed_with_a_ping_rather_than_a_load(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    now = [100.0]
    async with counted_cached_store(
        redis_url, key_prefix, staleness_ms=BOUND_MS, clock=lambda: now[0]
    ) as (store, client, manager):
        cookie = await logged_in(manager)
        await warm(manager, store, cookie)
        now[0] += 0.5  # the last confirmation is far older than the bound
        sent, hits = len(client.sent), store.stats["hit"]
        bypassed, confirms = store.stats.get("bypass", 0), store.stats.get("confirm", 0)
        assert (await request(manager, cookie))[0] == "alice"
        assert store.stats["confirm"] == confirms + 1  # one ping on the tracking connection
        assert store.stats["hit"] == hits + 1  # then served from memory
        assert store.stats.get("bypass", 0) == bypassed
        assert len(client.sent) == sent  # no load from Redis
        assert store.tracker.confirmed_at == now[0]  # confirmed as of the load's own time


async def test_a_confirmation_that_arrives_later_than_the_bound_is_not_used(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    ticks = [100.0]

    def clock() -> float:  # every look at the clock is 6 ms after the previous one
        ticks[0] += 0.006
        return ticks[0]

    store = await cached_store(redis_url, key_prefix, staleness_ms=BOUND_MS, clock=clock)
    manager = AsyncSessionManager(store, session_config())
    try:
        cookie = await logged_in(manager)
        for _ in range(20):
            assert (await request(manager, cookie))[0] == "alice"
        assert store.stats.get("hit", 0) == 0
        assert store.stats.get("confirm", 0) > 0
        assert store.stats["bypass"] >= 20
    finally:
        await store.aclose()


async def test_nothing_is_served_past_the_staleness_bound(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    now = [100.0]
    # confirm=False: a stale confirmation is not renewed on demand (tested further down), the
    # load bypasses the cache.
    store = await cached_store(
        redis_url, key_prefix, staleness_ms=BOUND_MS, clock=lambda: now[0], confirm=False
    )
    manager = AsyncSessionManager(store, session_config())
    try:
        cookie = await logged_in(manager)
        for _ in range(3):  # the first read sends the ping, a later one reads its answer
            await request(manager, cookie)
        await warm(manager, store, cookie)
        # The tracking stream's liveness was confirmed "long ago": the cache is not used.
        now[0] += 1.0
        bypassed, hits = store.stats.get("bypass", 0), store.stats["hit"]
        assert (await request(manager, cookie))[0] == "alice"
        assert store.stats["bypass"] == bypassed + 1
        assert store.stats["hit"] == hits
    finally:
        await store.aclose()


async def test_hits_report_their_staleness_and_bypasses_their_duration(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    now = [100.0]
    reports: list[tuple[float, str, float]] = []  # (clock, outcome, seconds)

    class Clocked(CapturingObserver):
        def operation(self, name: str, seconds: float, outcome: str) -> None:
            if name == "cache":
                reports.append((now[0], outcome, seconds))

    store = await cached_store(
        redis_url,
        key_prefix,
        staleness_ms=BOUND_MS,
        clock=lambda: now[0],
        observer=Clocked(),
        confirm=False,  # bypass (and recover) rather than renew the confirmation on demand
    )
    manager = AsyncSessionManager(store, session_config())
    try:
        cookie = await logged_in(manager)
        await warm(manager, store, cookie)
        now[0] += 0.5  # the last confirmation is now 0.5 s old: loads bypass the cache
        bypass_start, recoveries = now[0], store.stats.get("recovered", 0)
        await request(manager, cookie)
        for _ in range(200):  # 1 ms per read: pings sent meanwhile confirm the stream again
            now[0] += 0.001
            await request(manager, cookie)
            if store.stats.get("recovered", 0) > recoveries:
                break
        # (the first loads, before tracking was confirmed, were a bypass period too)
        later = [(at, o, s) for at, o, s in reports if at >= bypass_start]
        recovered = [at for at, outcome, _ in later if outcome == "recovered"]
        assert len(recovered) == 1, store.stats
        bypassed = [s for _, o, s in later if o in ("bypass", "recovered")]
        assert sum(bypassed) == pytest.approx(recovered[0] - bypass_start)
        earlier = [s for at, o, s in reports if o in ("bypass", "recovered") and at < bypass_start]
        assert store.bypass_seconds == pytest.approx(sum(earlier) + sum(bypassed))
        await warm(manager, store, cookie)
        hits = [seconds for _, outcome, seconds in reports if outcome == "hit"]
        assert hits
        assert all(0 <= seconds <= BOUND_MS / 1000 for seconds in hits)
        assert max(hits) > 0  # measured against the moving clock, not reported as 0
    finally:
        await store.aclose()


async def test_a_due_touch_goes_to_the_server(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    clock = FakeClock(1_750_000_000.0)
    config = SessionConfig(
        secret_keys=session_config().secret_keys, clock=clock, touch_interval=60, idle_timeout=600
    )
    store = await cached_store(redis_url, key_prefix, staleness_ms=50)
    manager = AsyncSessionManager(store, config)
    try:
        cookie = await logged_in(manager)
        await warm(manager, store, cookie)
        key = next(iter(store._lru._entries))
        accessed = store._lru._entries[key][0].meta.accessed
        clock.advance(61)
        assert (await request(manager, cookie))[0] == "alice"
        assert store.stats["miss_touch"] == 1
        await warm(manager, store, cookie)
        assert store._lru._entries[key][0].meta.accessed == accessed + 61_000
    finally:
        await store.aclose()


async def test_the_observer_counts_hits_and_misses(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    observer = CapturingObserver()
    store = await cached_store(redis_url, key_prefix, staleness_ms=50, observer=observer)
    manager = AsyncSessionManager(store, session_config())
    try:
        cookie = await logged_in(manager)
        await warm(manager, store, cookie)
        outcomes = [outcome for name, _, outcome in observer.operations if name == "cache"]
        assert "hit" in outcomes
        assert outcomes.count("hit") == store.stats["hit"]
        assert {"miss", "bypass"} & set(outcomes)
    finally:
        await store.aclose()


async def test_a_redis_restart_flushes_the_cache_and_serves_nothing_stale(key_prefix: str) -> None:
    binary = redis_server_binary("a Redis to restart")
    server = RedisServer(binary).start()
    port = server.port
    store = await cached_store(server.url, key_prefix, staleness_ms=50)
    manager = AsyncSessionManager(store, session_config())
    try:
        cookie = await logged_in(manager)
        await warm(manager, store, cookie)
        server.stop()
        server = RedisServer(binary, port=port).start()  # empty: the session is gone
        for _ in range(5):
            assert (await request(manager, cookie))[0] is None
        assert store.stats.get("flush_disconnect", 0) == 1
        assert len(store) == 0
        # Tracking comes back on its own, and the cache with it.
        cookie = await logged_in(manager)
        await warm(manager, store, cookie)
        assert store.tracker.connections == 2
        # A FLUSHALL is an invalidation of everything.
        redis.Redis(port=port).flushall()
        flushed_at = time.monotonic()
        seen = await reads_after(manager, cookie, flushed_at, seconds=0.1)
        late = [(at, user) for at, user in seen if at > 0.05 and user]
        assert not late
        assert store.stats.get("flush_server_flush", 0) == 1
    finally:
        await store.aclose()
        server.stop()
