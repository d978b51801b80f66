"""The store suites again, through the local cache (``AsyncCachingStore``) on a real Redis.

The store contract, user, lock, event, commit-race and manager suites run unchanged with
every Redis store kind (standalone, Valkey, Sentinel, Cluster) wrapped in the cache (the
memory store skips here): a cache that served a stale or foreign record, or lost a write,
fails them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sessionary.stores import AsyncCachingStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore

# The suites, collected again in this module with its own ``async_store`` fixture.
from tests._async.test_commit_races import *  # noqa: F403
from tests._async.test_lock_and_events import *  # noqa: F403
from tests._async.test_manager import *  # noqa: F403
from tests._async.test_store_contract import *  # noqa: F403
from tests._async.test_user_index import *  # noqa: F403
from tests._async.test_users import *  # noqa: F403

# (The star imports above defined pytestmark as one mark: this module sets two.)
pytestmark = [  # type: ignore[assignment]
    pytest.mark.anyio,
    pytest.mark.store_kinds("redis", "valkey", "sentinel", "cluster"),
]


@pytest.fixture
async def async_store(
    async_store: AsyncSessionStore,
) -> AsyncIterator[AsyncSessionStore]:
    """Every Redis store kind of the suites, wrapped in the local cache."""
    assert isinstance(async_store, AsyncRedisStore)  # store_kinds: Redis ones only
    cached = AsyncCachingStore(async_store, staleness_ms=50)
    assert cached.capabilities == async_store.capabilities
    yield cached
    assert cached.stats.get("flush_disconnect", 0) == 0
    await cached.stop_tracking()
