"""The asyncio cache used from one event loop after another (``asyncio.run()`` per call,
as asgiref's ``async_to_sync`` does): one tracking connection per loop, a flush on each
move, nothing left open."""

from __future__ import annotations

import asyncio

import pytest
import redis

from sessionary import AsyncSessionManager
from sessionary.stores import AsyncCachingStore, AsyncRedisStore
from sessionary.testing import session_config

pytestmark = pytest.mark.redis


def test_each_event_loop_gets_its_own_tracking_and_a_move_flushes(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    store = AsyncCachingStore(
        AsyncRedisStore.from_url(redis_url, prefix=key_prefix), staleness_ms=50
    )
    manager = AsyncSessionManager(store, session_config())
    name = manager.config.cookie.name

    async def login() -> str:
        cycle = await manager.open([])
        cycle.session.login("alice")
        update = await manager.commit(cycle)
        assert update.set_cookie is not None
        return update.set_cookie.split(";", 1)[0].split("=", 1)[1]

    async def users(cookie: str) -> set[object]:
        seen: set[object] = set()
        for _ in range(30):
            cycle = await manager.open([f"{name}={cookie}"])
            seen.add(cycle.session.user_id)
            await manager.commit(cycle)
        return seen

    cookie = asyncio.run(login())
    for run in range(1, 4):
        hits = store.stats.get("hit", 0)
        assert asyncio.run(users(cookie)) == {"alice"}
        assert store.stats["hit"] > hits  # the new loop's tracking serves hits again
        assert store.stats.get("flush_loop", 0) == run - 1  # the login loaded nothing
        # The loop's shutdown closed its tracking connection (and nothing else is open).
        assert store._trackers.loops == 0

    async def close() -> None:
        await store.aclose()

    asyncio.run(close())
