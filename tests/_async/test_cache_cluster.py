"""The local cache on a Redis Cluster: one tracking connection per primary.

Two instances share the test Cluster: a logout, and a "log out everywhere" (whose user
epoch lives in another slot, usually on another primary) made on one are refused by the
other within the staleness bound, while hot reads are served from memory.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from redis.cluster import RedisCluster

from sessionary import AsyncSessionManager
from sessionary.stores import AsyncCachingStore, AsyncRedisStore
from sessionary.testing import session_config
from tests._async.test_cache import (
    BOUND_MS,
    assert_none_served_after_the_bound,
    logged_in,
    reads_after,
    request,
    warm,
)
from tests.cluster import RedisClusterNodes

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


@pytest.fixture
async def cluster_pair(
    redis_cluster: RedisClusterNodes, cluster_admin: RedisCluster, key_prefix: str
) -> AsyncIterator[tuple[AsyncSessionManager, AsyncSessionManager, AsyncCachingStore]]:
    """Instance A (a cached store) and instance B (another), with B's cache."""
    host, port = redis_cluster.startup_nodes[0]
    url = f"redis+cluster://{host}:{port}"
    stores = [
        AsyncCachingStore(AsyncRedisStore.from_url(url, prefix=key_prefix), staleness_ms=BOUND_MS)
        for _ in range(2)
    ]
    config = session_config()
    yield AsyncSessionManager(stores[0], config), AsyncSessionManager(stores[1], config), stores[1]
    for store in stores:
        await store.aclose()


async def test_a_logout_on_one_cluster_instance_is_seen_by_the_other_within_the_bound(
    cluster_pair: tuple[AsyncSessionManager, AsyncSessionManager, AsyncCachingStore],
) -> None:
    a, b, cache = cluster_pair
    cookie = await logged_in(a)
    await warm(b, cache, cookie)
    await request(a, cookie, lambda s: s.logout())
    seen = await reads_after(b, cookie, time.monotonic())
    assert_none_served_after_the_bound(seen)


async def test_log_out_everywhere_on_a_cluster_is_seen_within_the_bound(
    cluster_pair: tuple[AsyncSessionManager, AsyncSessionManager, AsyncCachingStore],
) -> None:
    a, b, cache = cluster_pair
    cookie = await logged_in(a)
    await warm(b, cache, cookie)
    assert await a.revoke_user("alice") >= 1
    seen = await reads_after(b, cookie, time.monotonic())
    assert_none_served_after_the_bound(seen)
    assert cache.tracker.tracking
