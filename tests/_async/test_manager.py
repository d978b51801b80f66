"""The manager against real stores: full request cycles, concurrency, failures, budgets.

Concurrency runs as asyncio tasks here and as threads in the generated sync twin.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from functools import partial

import pytest
import redis

from sessionary import AsyncSessionManager, Session, SessionConfig
from sessionary.exceptions import StoreConflictError, StoreUnavailableError
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import parse_token
from sessionary.sansio.ops import CommitResult, Create, Destroy, Discard, Load, LoadResult, Update
from sessionary.stores import AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore, Capability
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests.concurrency import async_gather, async_sleep
from tests.services import free_port

pytestmark = pytest.mark.anyio


def cookie_value(set_cookie: str | None) -> str:
    assert set_cookie is not None
    name_value = set_cookie.split(";", 1)[0]
    return name_value.split("=", 1)[1]


def header(config: SessionConfig, value: str) -> list[str]:
    return [f"{config.cookie.name}={value}"]


class Client:
    """A browser stand-in: keeps the cookie between requests."""

    def __init__(self, manager: AsyncSessionManager) -> None:
        self.manager = manager
        self.cookie: str | None = None

    async def request(
        self, handler: Callable[[Session], object] | None = None
    ) -> dict[str, object]:
        cookies = header(self.manager.config, self.cookie) if self.cookie else []
        cycle = await self.manager.open(cookies)
        if handler is not None:
            handler(cycle.session)
        snapshot = dict(cycle.session)
        update = await self.manager.commit(cycle)
        if update.set_cookie is not None:
            value = cookie_value(update.set_cookie)
            self.cookie = value or None
        return snapshot


async def test_a_full_lifecycle(async_store: AsyncSessionStore, config: SessionConfig) -> None:
    observer = CapturingObserver()
    manager = AsyncSessionManager(async_store, config, observer=observer)
    browser = Client(manager)
    assert await browser.request() == {}
    assert browser.cookie is None  # nothing written, nothing created

    await browser.request(lambda s: s.update(cart=[1]))
    first_id = browser.cookie
    assert first_id is not None
    await browser.request(lambda s: s["cart"].append(2))
    assert await browser.request() == {"cart": [1, 2]}
    assert browser.cookie == first_id

    await browser.request(lambda s: s.login("alice"))
    assert browser.cookie not in (None, first_id)
    assert await browser.request() == {"cart": [1, 2]}

    stale = Client(manager)
    stale.cookie = first_id
    assert await stale.request() == {}

    await browser.request(Session.logout)
    assert browser.cookie is None
    assert observer.names() == [
        EventName.CREATED,
        EventName.ROTATED,
        EventName.INVALID_ID,
        EventName.DESTROYED,
    ]
    assert {name for name, _, _ in observer.operations} == {"load", "create", "update", "destroy"}


async def test_fifty_concurrent_writers_of_distinct_keys_lose_nothing(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    manager = AsyncSessionManager(async_store, config)
    browser = Client(manager)
    await browser.request(lambda s: s.__setitem__("start", True))
    assert browser.cookie is not None
    cookies = header(config, browser.cookie)

    async def writer(index: int) -> None:
        cycle = await manager.open(cookies)
        await async_sleep(random.random() / 100)  # interleave loads and commits
        cycle.session[f"k{index}"] = index
        await manager.commit(cycle)

    await async_gather([partial(writer, i) for i in range(50)])
    final = await browser.request()
    assert {f"k{i}" for i in range(50)} <= set(final)
    assert all(final[f"k{i}"] == i for i in range(50))


async def test_logout_is_never_undone_by_slower_writers(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    manager = AsyncSessionManager(async_store, config)
    browser = Client(manager)
    await browser.request(lambda s: s.login("bob"))
    assert browser.cookie is not None
    cookies = header(config, browser.cookie)

    slow_cycles = [await manager.open(cookies) for _ in range(20)]
    for index, cycle in enumerate(slow_cycles):
        assert cycle.session.user_id == "bob"
        cycle.session[f"late{index}"] = index

    await browser.request(Session.logout)

    async def commit_late(index: int) -> None:
        await async_sleep(random.random() / 200)
        update = await manager.commit(slow_cycles[index])
        assert update.set_cookie is not None
        assert "Max-Age=0" in update.set_cookie  # the slow request learns the session is gone

    await async_gather([partial(commit_late, i) for i in range(20)])
    replay = Client(manager)
    replay.cookie = cookies[0].split("=", 1)[1]
    assert await replay.request() == {}


async def test_logout_racing_writers_leaves_no_key_behind_in_redis(
    async_redis_store: AsyncRedisStore, config: SessionConfig, redis_admin: redis.Redis
) -> None:
    manager = AsyncSessionManager(async_redis_store, config)
    browser = Client(manager)
    await browser.request(lambda s: s.login("carol"))
    assert browser.cookie is not None
    cookies = header(config, browser.cookie)

    async def slow_writer(index: int) -> None:
        cycle = await manager.open(cookies)
        cycle.session[f"w{index}"] = index
        await async_sleep(0.002 + random.random() / 50)
        await manager.commit(cycle)

    async def logout() -> None:
        await async_sleep(0.005)
        other_tab = Client(manager)
        other_tab.cookie = browser.cookie
        await other_tab.request(Session.logout)

    tasks: list[Callable[[], Awaitable[None]]] = [logout]
    tasks += [partial(slow_writer, i) for i in range(20)]
    await async_gather(tasks)
    token = parse_token(browser.cookie)
    assert token is not None
    logged_out = async_redis_store.layout.session_key(
        manager.core.keyring.storage_key(token.selector)
    )
    assert redis_admin.exists(logged_out) == 0
    # Writers whose load came after the logout were anonymous: their writes may only have
    # created *new* sessions (fresh IDs), never revived carol's, and nothing lacks a TTL.
    for key in redis_admin.scan_iter(match=f"{async_redis_store.layout.prefix}:*"):
        assert redis_admin.hget(key, "_u") is None
        assert redis_admin.pttl(key) > 0


async def test_a_thousand_concurrent_sessions_never_bleed(
    async_store: AsyncSessionStore, config: SessionConfig
) -> None:
    manager = AsyncSessionManager(async_store, config)
    browsers = [Client(manager) for _ in range(1000)]

    async def create(index: int) -> None:
        await browsers[index].request(lambda s: s.update(owner=index, items=[index]))

    async def check(index: int) -> None:
        await browsers[index].request(lambda s: s["items"].append(index))
        seen = await browsers[index].request()
        assert seen == {"owner": index, "items": [index, index]}

    await async_gather([partial(create, i) for i in range(1000)], limit=100)
    assert len({b.cookie for b in browsers}) == 1000
    await async_gather([partial(check, i) for i in range(1000)], limit=100)


async def test_strict_policy_raises_on_a_concurrent_change(async_store: AsyncSessionStore) -> None:
    config = session_config(conflict_policy="raise")
    manager = AsyncSessionManager(async_store, config)
    browser = Client(manager)
    await browser.request(lambda s: s.__setitem__("n", 1))
    assert browser.cookie is not None
    cookies = header(config, browser.cookie)
    first = await manager.open(cookies)
    second = await manager.open(cookies)
    first.session["n"] += 1
    second.session["n"] += 10
    await manager.commit(first)
    with pytest.raises(StoreConflictError) as info:
        await manager.commit(second)
    assert info.value.fields == ("n",)
    assert await browser.request() == {"n": 2}


async def test_last_writer_wins_reports_the_conflict(async_store: AsyncSessionStore) -> None:
    observer = CapturingObserver()
    config = session_config()
    manager = AsyncSessionManager(async_store, config, observer=observer)
    browser = Client(manager)
    await browser.request(lambda s: s.__setitem__("n", 1))
    assert browser.cookie is not None
    cookies = header(config, browser.cookie)
    first = await manager.open(cookies)
    second = await manager.open(cookies)
    first.session["n"] += 1
    second.session["n"] += 10
    await manager.commit(first)
    await manager.commit(second)
    assert await browser.request() == {"n": 11}
    (conflict,) = observer.of(EventName.CONFLICT)
    assert conflict.detail == {"fields": ["n"], "applied": "ok"}


async def test_expiry_is_judged_by_the_injected_clock(async_store: AsyncSessionStore) -> None:
    clock = FakeClock(1_750_000_000)
    config = session_config(clock=clock, idle_timeout=600, absolute_timeout=3600)
    observer = CapturingObserver()
    manager = AsyncSessionManager(async_store, config, observer=observer)
    browser = Client(manager)
    await browser.request(lambda s: s.__setitem__("x", 1))
    for _ in range(5):
        clock.advance(599)
        assert await browser.request() == {"x": 1}
    clock.advance(600)  # exactly idle_timeout since the last (touched) access
    reasons: list[str | None] = []
    assert await browser.request(lambda s: reasons.append(s.end_reason)) == {}
    assert browser.cookie is None  # cleared
    assert observer.names()[-1] is EventName.EXPIRED_IDLE

    browser = Client(manager)
    await browser.request(lambda s: s.__setitem__("x", 1))
    for _ in range(6):
        clock.advance(590)
        assert await browser.request() == {"x": 1}
    clock.advance(60)  # 3600 s since creation: the absolute deadline, though active
    assert await browser.request(lambda s: reasons.append(s.end_reason)) == {}
    assert observer.names()[-1] is EventName.EXPIRED_ABSOLUTE
    assert reasons == ["expired_idle", "expired_absolute"]  # what the app can tell the user


class BrokenStore:
    """A store whose every operation fails like an unreachable server."""

    capabilities = frozenset({Capability.SESSIONS})

    def __init__(
        self, fail_on: tuple[type, ...] = (Load, Create, Update, Destroy, Discard)
    ) -> None:
        self.fail_on = fail_on
        self.calls = 0

    def _fail(self, op: object) -> None:
        self.calls += 1
        if isinstance(op, self.fail_on):
            msg = "store down"
            raise StoreUnavailableError(msg)

    async def load(self, op: Load) -> LoadResult:
        self._fail(op)
        raise AssertionError  # pragma: no cover

    async def create(self, op: Create) -> CommitResult:
        self._fail(op)
        raise AssertionError  # pragma: no cover

    async def update(self, op: Update) -> CommitResult:
        self._fail(op)
        raise AssertionError  # pragma: no cover

    async def destroy(self, op: Destroy) -> bool:
        self._fail(op)
        raise AssertionError  # pragma: no cover

    async def discard(self, op: Discard) -> bool:
        self._fail(op)
        raise AssertionError  # pragma: no cover

    async def aclose(self) -> None:
        pass


async def test_a_load_failure_is_deferred_until_the_session_is_used(
    config: SessionConfig,
) -> None:
    store = BrokenStore()
    manager = AsyncSessionManager(store, config)
    cookie = header(config, "A" * 43)
    cycle = await manager.open(cookie)
    assert store.calls == 1
    update = await manager.commit(cycle)  # untouched: nothing to do, cookie left alone
    assert update.set_cookie is None
    cycle = await manager.open(cookie)
    with pytest.raises(StoreUnavailableError):
        cycle.session.get("x")
    update = await manager.commit(cycle)
    assert update.set_cookie is None
    assert store.calls == 2


async def test_a_commit_failure_raises(config: SessionConfig) -> None:
    manager = AsyncSessionManager(BrokenStore(), config)
    cycle = await manager.open([])
    cycle.session["x"] = 1
    with pytest.raises(StoreUnavailableError):
        await manager.commit(cycle)


async def test_unreachable_redis_maps_to_store_unavailable(config: SessionConfig) -> None:
    store = AsyncRedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, retries=0)
    try:
        with pytest.raises(StoreUnavailableError):
            await store.warm_up()
        manager = AsyncSessionManager(store, config)
        cycle = await manager.open(header(config, "A" * 43))
        assert cycle.session.unavailable
    finally:
        await store.aclose()
