"""The local cache through a Sentinel failover: SIGKILL the primary during reads.

From the moment the primary dies until tracking is on again (on the new primary, found
through the sentinels), nothing is served from memory; afterwards the cache serves again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from sessionary import AsyncSessionManager
from sessionary.stores import AsyncCachingStore, AsyncRedisStore
from sessionary.testing import session_config
from tests.sentinel import SentinelGroup
from tests.services import redis_server_binary

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.slow]

RECOVERY_LIMIT_S = 30.0


@pytest.fixture
def sentinel_group() -> Iterator[SentinelGroup]:
    with SentinelGroup(redis_server_binary("a Sentinel group"), down_after_ms=1000) as group:
        yield group


async def test_a_sentinel_failover_flushes_and_nothing_is_served_until_tracking_is_back(
    sentinel_group: SentinelGroup,
) -> None:
    store = AsyncCachingStore(
        AsyncRedisStore.from_url(sentinel_group.url, timeout=0.5, retries=1), staleness_ms=50
    )
    manager = AsyncSessionManager(store, session_config())
    name = manager.config.cookie.name

    async def read(cookie: str) -> object:
        cycle = await manager.open([f"{name}={cookie}"])
        user = cycle.session.user_id
        await manager.commit(cycle)
        return user

    try:
        cycle = await manager.open([])
        cycle.session.login("alice")
        update = await manager.commit(cycle)
        assert update.set_cookie is not None
        cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1]
        # On the replica before the primary dies (WAIT under the 0.5 s socket timeout).
        for _ in range(20):
            if await store.inner.client.wait(1, 300) >= 1:
                break
        else:
            pytest.fail("the replica never acknowledged the login")
        while not store.stats.get("hit"):
            assert await read(cookie) == "alice"
        tracker = store.tracker
        assert tracker.connections == 1
        primary = sentinel_group.primary
        assert primary is not None
        assert primary.process is not None
        primary.process.kill()
        killed_at = time.monotonic()
        last_hit = 0.0
        hits_when_lost: int | None = None
        deadline = killed_at + RECOVERY_LIMIT_S
        while tracker.connections < 2:
            assert time.monotonic() < deadline, f"tracking never came back: {store.stats}"
            hits = store.stats["hit"]
            try:
                await read(cookie)
            except Exception:  # the store is down for a while: that is the test
                await asyncio.sleep(0.05)
            if store.stats["hit"] > hits:
                last_hit = time.monotonic()
            if hits_when_lost is None and tracker.confirmed_at is None:
                hits_when_lost = store.stats["hit"]
            if hits_when_lost is not None and tracker.connections < 2:
                # Once the loss is seen, nothing comes from memory until tracking is back.
                assert store.stats["hit"] == hits_when_lost
        # A hit needs a ping answered within the bound: none after the primary died + 50 ms.
        assert last_hit - killed_at <= 0.05 + 0.005, store.stats
        assert store.stats.get("flush_disconnect", 0) + store.stats.get("flush_unanswered", 0) >= 1
        hits = store.stats["hit"]
        while store.stats["hit"] == hits:  # the new primary's tracking serves again
            assert time.monotonic() < deadline, f"the cache never served again: {store.stats}"
            assert await read(cookie) == "alice"
    finally:
        await store.aclose()
