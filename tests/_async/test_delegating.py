"""A wrapper overrides only what it changes: the store suites, through a counting wrapper.

``CountingStore`` (below) is all a wrapper needs to be: it subclasses
:class:`~sessionary._async.delegating.AsyncDelegatingStore`, overrides the one method it
cares about, and re-declares nothing. The store contract, user, lock, event and manager
suites run here again, unchanged, with every store kind (memory, Redis, Valkey, Sentinel,
Cluster) wrapped in it: they pass, and the wrapper saw the traffic.
"""

from __future__ import annotations

from collections import Counter

import pytest

from sessionary import AsyncSessionManager
from sessionary.sansio.ops import Load, LoadResult
from sessionary.stores import AsyncDelegatingStore
from sessionary.stores.base import AsyncSessionStore, Capability
from sessionary.testing import session_config

# The suites, collected again in this module with its own ``async_store`` fixture.
from tests._async.test_commit_races import *  # noqa: F403
from tests._async.test_lock_and_events import *  # noqa: F403
from tests._async.test_manager import *  # noqa: F403
from tests._async.test_store_contract import *  # noqa: F403
from tests._async.test_user_index import *  # noqa: F403
from tests._async.test_users import *  # noqa: F403

pytestmark = pytest.mark.anyio


class CountingStore(AsyncDelegatingStore):
    """Counts loads; everything else (every capability) is the wrapped store's."""

    def __init__(self, inner: AsyncSessionStore) -> None:
        super().__init__(inner)
        self.loads: Counter[str] = Counter()

    async def load(self, op: Load) -> LoadResult:
        result = await super().load(op)
        self.loads[result.status.value] += 1
        return result


@pytest.fixture
async def async_store(async_store: AsyncSessionStore) -> AsyncSessionStore:
    """Every store kind of the suites, wrapped in :class:`CountingStore`."""
    wrapped = CountingStore(async_store)
    assert wrapped.capabilities == async_store.capabilities
    assert Capability.SESSIONS in wrapped.capabilities
    return wrapped


async def test_the_wrapper_sees_the_traffic(async_store: AsyncSessionStore) -> None:
    manager = AsyncSessionManager(async_store, session_config())
    cycle = await manager.open([])
    cycle.session["a"] = 1
    update = await manager.commit(cycle)
    assert update.set_cookie is not None
    await manager.commit(await manager.open([update.set_cookie.split(";", 1)[0]]))
    assert isinstance(async_store, CountingStore)
    assert async_store.loads == Counter({"found": 1})
