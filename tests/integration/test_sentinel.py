"""Redis Sentinel: ``redis+sentinel://`` finds the primary; the store contract basics hold."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from sessionary import AsyncSessionManager, SessionManager
from sessionary.cli.commands import cli
from sessionary.exceptions import StoreUnavailableError
from sessionary.stores import AsyncRedisStore, RedisStore
from sessionary.testing import session_config
from tests.helpers import Ref
from tests.sentinel import SentinelGroup
from tests.services import redis_server_binary


@pytest.fixture(scope="module")
def sentinel_group() -> Iterator[SentinelGroup]:
    with SentinelGroup(redis_server_binary("a Sentinel group")) as group:
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


def test_bench_and_stats_through_sentinel(sentinel_group: SentinelGroup) -> None:
    runner = CliRunner()
    bench = runner.invoke(cli, ["bench", sentinel_group.url, "-n", "100", "-c", "2", "--json"])
    assert bench.exit_code == 0, bench.output
    report = json.loads(bench.stdout)
    assert report["operations"] == 100
    assert report["errors"] == {}
    # Through Sentinel the server sees the store's commands: at least one per round trip.
    by_command = report["redis"]["by_command"]
    assert {"hgetall", "evalsha"} <= set(by_command)
    assert sum(by_command.values()) >= report["store_round_trips_per_op"]

    store = RedisStore.from_url(sentinel_group.url, prefix="sentinel-stats")
    manager = SessionManager(store, session_config())
    for user in ("ada", "ada", None):
        cycle = manager.open([])
        cycle.session["k"] = 1
        if user is not None:
            cycle.session.login(user)
        manager.commit(cycle)
    store.close()
    stats = runner.invoke(
        cli, ["stats", sentinel_group.url, "--prefix", "sentinel-stats", "--json"]
    )
    assert stats.exit_code == 0, stats.output
    figures = json.loads(stats.stdout)
    assert figures["kind"] == "sentinel"
    assert figures["live_sessions"] == 3
    assert figures["top_users"] == [{"user": "ada", "sessions": 2}]


def test_sentinel_urls_honour_the_pool_options(sentinel_group: SentinelGroup) -> None:
    store = RedisStore.from_url(sentinel_group.url, max_connections=3, pool_timeout=0.7)
    client: Any = store.client
    pool = client.connection_pool
    assert (pool.max_connections, pool.timeout) == (3, 0.7)
    store.close()


@pytest.mark.anyio
async def test_a_full_sentinel_pool_makes_callers_wait_up_to_the_pool_timeout(
    sentinel_group: SentinelGroup,
) -> None:
    store = AsyncRedisStore.from_url(
        sentinel_group.url, prefix="sentinel-pool", max_connections=1, pool_timeout=0.2
    )
    client: Any = store.client
    assert (client.connection_pool.max_connections, client.connection_pool.timeout) == (1, 0.2)
    ref = Ref()
    try:
        busy = asyncio.ensure_future(client.blpop(["sentinel-pool:q"], timeout=0.6))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError):  # waited for the only connection, in vain
            await store.load(ref.load())
        assert 0.15 < time.monotonic() - started < 0.9
        await busy
        waiting = asyncio.ensure_future(client.blpop(["sentinel-pool:q"], timeout=0.1))
        await asyncio.sleep(0.02)
        assert (await store.load(ref.load())).record is None  # waits its turn, then served
        await waiting
    finally:
        await store.aclose()
