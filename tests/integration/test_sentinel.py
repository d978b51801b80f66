"""Redis Sentinel: ``redis+sentinel://`` finds the primary; the store contract basics hold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sessionary import AsyncSessionManager, SessionManager
from sessionary.stores import AsyncRedisStore, RedisStore
from sessionary.testing import session_config
from tests.sentinel import SentinelGroup
from tests.services import find_redis_server, services_required


@pytest.fixture(scope="module")
def sentinel_group() -> Iterator[SentinelGroup]:
    binary = find_redis_server()
    if binary is None:
        if services_required():
            pytest.fail("no redis-server binary to start a Sentinel group")
        pytest.skip("no redis-server binary to start a Sentinel group")
    with SentinelGroup(binary) as group:
        yield group


def test_sync_store_through_sentinel(sentinel_group: SentinelGroup) -> None:
    store = RedisStore.from_url(sentinel_group.url, prefix="sentinel-sync")
    store.warm_up()
    manager = SessionManager(store, session_config())
    cycle = manager.open([])
    cycle.session["a"] = 1
    cookie = (manager.commit(cycle).set_cookie or "").split(";", 1)[0]
    loaded = manager.open([cookie])
    assert loaded.session["a"] == 1
    loaded.session.logout()
    manager.commit(loaded)
    assert manager.open([cookie]).session.is_new
    store.close()


@pytest.mark.anyio
async def test_async_store_through_sentinel(sentinel_group: SentinelGroup) -> None:
    store = AsyncRedisStore.from_url(sentinel_group.url, prefix="sentinel-async")
    await store.warm_up()
    manager = AsyncSessionManager(store, session_config())
    cycle = await manager.open([])
    cycle.session["a"] = [1, 2]
    cookie = ((await manager.commit(cycle)).set_cookie or "").split(";", 1)[0]
    loaded = await manager.open([cookie])
    assert loaded.session["a"] == [1, 2]
    loaded.session.logout()
    await manager.commit(loaded)
    await store.aclose()
