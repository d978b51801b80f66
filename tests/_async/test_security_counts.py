"""The concurrency counts docs/security.md asks for, bounded (R7, R27, R28).

* R7: 10 000 anonymous reads and 1 000 anonymous ``logout()`` calls create no record, send no
  ``Set-Cookie`` and (on Redis) send no command at all.
* R27/R28: 50 parallel regenerations of one session leave exactly one working ID, with all
  the data; the old ID is dead at once (no grace period) and the user index lists one entry.

Runs on every store kind as asyncio tasks; the generated sync twin runs them as threads.
"""

from __future__ import annotations

import pytest

from sessionary import AsyncSessionManager, Session, SessionConfig
from sessionary.backends.sql import AsyncSQLStore
from sessionary.sansio.cycle import ResponseUpdate
from sessionary.sansio.events import EventName
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import CapturingObserver
from tests._async.test_users import Device
from tests.concurrency import async_gather

pytestmark = pytest.mark.anyio

ANONYMOUS_READS = 10_000
ANONYMOUS_LOGOUTS = 1_000
REGENERATIONS = 50


async def stored_keys(store: AsyncSessionStore) -> int:
    """How many records (or Redis keys under the store's prefix) exist."""
    if isinstance(store, AsyncMemoryStore):
        return len(store.engine)
    if isinstance(store, AsyncSQLStore):
        return await store.count()
    assert isinstance(store, AsyncRedisStore)
    count = 0
    async for _ in store.client.scan_iter(match=f"{store.layout.prefix}:*"):
        count += 1
    return count


def commands_sent(store: AsyncSessionStore) -> int | None:
    """Commands the counting client sent so far (``None`` for stores without one)."""
    sent = getattr(getattr(store, "client", None), "sent", None)
    return len(sent) if isinstance(sent, list) else None


async def test_anonymous_reads_and_logouts_create_nothing(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    """R7: 10 000 GET-like reads and 1 000 anonymous logouts: 0 records, 0 Set-Cookie."""
    observer = CapturingObserver()
    manager = AsyncSessionManager(async_store, config, observer=observer)
    sent_before = commands_sent(async_store)

    async def read() -> ResponseUpdate:
        cycle = await manager.open([], client="203.0.113.7")
        session = cycle.session
        assert session.get("cart") is None
        assert "user" not in session
        assert len(session) == 0
        return await manager.commit(cycle)

    async def logout() -> ResponseUpdate:
        cycle = await manager.open([], client="203.0.113.7")
        cycle.session.logout()
        return await manager.commit(cycle)

    jobs = [read] * ANONYMOUS_READS + [logout] * ANONYMOUS_LOGOUTS
    updates = await async_gather(jobs, limit=64)

    if sent_before is not None:
        assert commands_sent(async_store) == sent_before  # not one Redis command
    assert len(updates) == ANONYMOUS_READS + ANONYMOUS_LOGOUTS
    assert [u for u in updates if u.set_cookie is not None] == []
    assert await stored_keys(async_store) == 0
    assert observer.of(EventName.CREATED) == []


async def test_fifty_parallel_regenerations_leave_one_id_with_all_the_data(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    """R27/R28: 50 concurrent ``rotate()`` calls on one session."""
    observer = CapturingObserver()
    manager = AsyncSessionManager(async_store, config, observer=observer)
    browser = Device(manager)
    await browser.login("alice")
    await browser.request(lambda s: s.update(cart=[1, 2], step=3))
    old = browser.cookie
    assert old is not None
    rotated_before = len(observer.of(EventName.ROTATED))

    async def regenerate() -> str | None:
        cycle = await manager.open(browser.cookies())
        cycle.session.rotate()
        update = await manager.commit(cycle)
        if update.set_cookie is None:
            return None
        return update.set_cookie.split(";", 1)[0].split("=", 1)[1]

    issued = {v for v in await async_gather([regenerate] * REGENERATIONS, limit=50) if v}

    assert old not in issued
    assert len(issued) == 1  # exactly one regeneration won; the others changed nothing
    assert len(observer.of(EventName.ROTATED)) - rotated_before == 1
    snapshots: dict[str | None, object] = {}

    def snapshot(session: Session) -> None:
        snapshots[session.user_id] = dict(session)

    stale = Device(manager)
    stale.cookie = old
    await stale.request(snapshot)
    assert snapshots.pop(None) == {}  # the old ID is dead at once
    winner = Device(manager)
    winner.cookie = issued.pop()
    await winner.request(snapshot)
    assert snapshots == {"alice": {"cart": [1, 2], "step": 3}}  # no data lost
    assert len(await manager.list_user_sessions("alice")) == 1
