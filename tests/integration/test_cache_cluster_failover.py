"""The local cache through a Redis Cluster failover: SIGKILL a primary during reads.

The session's own primary stays up; another primary dies (the Cluster refuses every
command, CLUSTERDOWN, until its replica is promoted). The cache serves nothing once the
loss is seen (and nothing later than the bound after the kill), asks for the topology
again, follows the promoted replica (a topology flush), and serves from memory again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from sessionary import AsyncSessionManager
from sessionary.exceptions import StoreUnavailableError
from sessionary.stores import AsyncCachingStore, AsyncRedisStore
from sessionary.testing import session_config
from tests.cluster import RedisClusterNodes
from tests.services import redis_server_binary

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.slow]

RECOVERY_LIMIT_S = 60.0
BOUND_S = 0.05


@pytest.fixture
def cluster() -> Iterator[RedisClusterNodes]:
    with RedisClusterNodes(redis_server_binary("a disposable Cluster")) as nodes:
        yield nodes


async def test_a_cluster_failover_flushes_and_the_cache_follows_the_new_primary(
    cluster: RedisClusterNodes,
) -> None:
    host, port = cluster.startup_nodes[0]
    store = AsyncCachingStore(
        AsyncRedisStore.from_url(f"redis+cluster://{host}:{port}", timeout=0.5, retries=1),
        staleness_ms=BOUND_S * 1000,
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
        while not store.stats.get("hit"):
            assert await read(cookie) == "alice"
        client = store.inner.client
        session_key = store.inner.layout.session_key(next(iter(store._lru._entries)))
        owner = client.get_node_from_key(session_key).port
        epoch_owner = {owner}  # the victim must own neither the session nor its epoch
        record = next(iter(store._lru._entries.values()))[0]
        assert record.meta.user_key is not None
        epoch_key = store.inner.layout.user_epoch_key(record.meta.user_key)
        epoch_owner.add(client.get_node_from_key(epoch_key).port)
        primaries = [node.port for node in client.get_primaries()]
        victim = next(
            s for s in cluster.servers if s.port in primaries and s.port not in epoch_owner
        )
        assert victim.process is not None
        victim.process.kill()
        killed_at = time.monotonic()
        last_hit = 0.0
        hits_when_lost: int | None = None
        deadline = killed_at + RECOVERY_LIMIT_S
        while not store.stats.get("flush_topology"):
            assert time.monotonic() < deadline, f"the topology change was never seen: {store.stats}"
            hits = store.stats["hit"]
            try:
                assert await read(cookie) == "alice"
            except StoreUnavailableError:  # CLUSTERDOWN until the replica is promoted
                await asyncio.sleep(0.05)
            if store.stats["hit"] > hits:
                last_hit = time.monotonic()
            if hits_when_lost is None and not store.tracker.tracking:
                hits_when_lost = store.stats["hit"]
            if hits_when_lost is not None:
                assert store.stats["hit"] == hits_when_lost, "served while a primary was lost"
            await asyncio.sleep(0.01)
        assert last_hit - killed_at <= BOUND_S + 0.005, store.stats
        hits = store.stats["hit"]
        while store.stats["hit"] == hits:  # every primary tracked again: hits resume
            assert time.monotonic() < deadline, f"the cache never served again: {store.stats}"
            assert await read(cookie) == "alice"
    finally:
        await store.aclose()
