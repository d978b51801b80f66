"""Durable writes (``ReplicaWait``): destroy — and optionally commits — wait for replicas.

On the Sentinel group and the Cluster (one replica per primary) a durable write returns only
once the replica holds it; where too few replicas exist it raises ``StoreDurabilityError``
(a 503), although the primary applied it.
"""

from __future__ import annotations

import signal

import pytest
import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from sessionary import AsyncSessionManager, SessionManager
from sessionary.exceptions import ConfigurationError, StoreDurabilityError, StoreUnavailableError
from sessionary.stores import AsyncRedisStore, RedisStore, ReplicaWait
from sessionary.testing import session_config
from tests.cluster import RedisClusterNodes
from tests.helpers import Ref
from tests.sentinel import SentinelGroup, async_primary, sync_primary

DURABLE = ReplicaWait(replicas=1, timeout_ms=500)


def _replica(group: SentinelGroup) -> redis.Redis:
    assert group.replica is not None
    return redis.Redis(port=group.replica.port, single_connection_client=True)


@pytest.mark.usefixtures("sentinel_admin")
def test_a_durable_destroy_has_reached_the_replica_when_it_returns(
    redis_sentinel: SentinelGroup, key_prefix: str
) -> None:
    replica = _replica(redis_sentinel)
    with sync_primary(redis_sentinel.sentinel_addresses) as primary:
        store = RedisStore(primary, prefix=key_prefix, durability=DURABLE)
        for _ in range(20):  # the replica would lag sometimes without WAIT
            ref = Ref()
            key = store.layout.session_key(ref.key)
            store.create(ref.create())
            primary.wait(1, 1000)  # the create itself is not durable: make it so here
            assert replica.exists(key) == 1
            assert store.destroy(ref.destroy()) is True
            assert replica.exists(key) == 0
    replica.close()


@pytest.mark.anyio
@pytest.mark.usefixtures("sentinel_admin")
async def test_durable_commits_and_logout_through_the_manager(
    redis_sentinel: SentinelGroup, key_prefix: str
) -> None:
    replica = _replica(redis_sentinel)
    async with async_primary(redis_sentinel.sentinel_addresses) as primary:
        policy = ReplicaWait(replicas=1, timeout_ms=500, commits=True)
        store = AsyncRedisStore(primary, prefix=key_prefix, durability=policy)
        assert store.durability is policy
        manager = AsyncSessionManager(store, session_config())
        cycle = await manager.open([])
        cycle.session.login("alice")
        cycle.session["cart"] = [1, 2]
        cookie = ((await manager.commit(cycle)).set_cookie or "").split(";", 1)[0]
        assert len(list(replica.scan_iter(match=f"{key_prefix}:s:*"))) == 1  # created durably
        loaded = await manager.open([cookie])
        assert loaded.session["cart"] == [1, 2]
        loaded.session.logout()
        await manager.commit(loaded)
        assert list(replica.scan_iter(match=f"{key_prefix}:s:*")) == []
    replica.close()


@pytest.mark.usefixtures("sentinel_admin")
def test_too_few_replicas_is_a_typed_error_but_the_primary_applied_it(
    redis_sentinel: SentinelGroup, key_prefix: str
) -> None:
    with sync_primary(redis_sentinel.sentinel_addresses) as primary:
        store = RedisStore(primary, prefix=key_prefix, durability=ReplicaWait(2, timeout_ms=50))
        ref = Ref()
        store.create(ref.create())
        with pytest.raises(StoreDurabilityError) as info:
            store.destroy(ref.destroy())
        assert (info.value.required, info.value.acknowledged) == (2, 1)
        assert isinstance(info.value, StoreUnavailableError)  # adapters answer 503
        assert "1 of 2" in str(info.value)
        assert primary.exists(store.layout.session_key(ref.key)) == 0


def test_a_durable_destroy_reloads_flushed_scripts(
    redis_sentinel: SentinelGroup, key_prefix: str, sentinel_admin: redis.Redis
) -> None:
    with sync_primary(redis_sentinel.sentinel_addresses) as primary:
        store = RedisStore(primary, prefix=key_prefix, durability=DURABLE)
        ref = Ref()
        store.create(ref.create())
        sentinel_admin.script_flush()
        assert store.destroy(ref.destroy()) is True


def test_durable_writes_on_the_cluster_wait_on_the_owning_primary(
    redis_cluster: RedisClusterNodes, cluster_admin: RedisCluster, key_prefix: str
) -> None:
    host, port = redis_cluster.startup_nodes[0]
    policy = ReplicaWait(replicas=1, timeout_ms=300, commits=True)
    store = RedisStore(RedisCluster(host=host, port=port), prefix=key_prefix, durability=policy)
    for _ in range(6):  # keys on every primary
        ref = Ref()
        key = store.layout.session_key(ref.key)
        replica = _cluster_replica_of(cluster_admin, key)
        store.create(ref.create())
        assert replica.exists(key) == 1
        assert store.destroy(ref.destroy()) is True
        assert replica.exists(key) == 0
        replica.close()
    # With the owning primary's replica frozen, WAIT there times out. A keyless WAIT would
    # go to the client's default node (whose replica would acknowledge at once): pick a key
    # owned by another primary to tell the two apart.
    default = store.client.get_default_node().name  # type: ignore[union-attr]
    ref = Ref()
    while cluster_admin.get_node_from_key(store.layout.session_key(ref.key)).name == default:  # type: ignore[no-untyped-call]
        ref = Ref()
    key = store.layout.session_key(ref.key)
    replica = _cluster_replica_of(cluster_admin, key)
    port = replica.get_connection_kwargs()["port"]
    frozen = next(s for s in redis_cluster.servers if s.port == port).process
    assert frozen is not None
    frozen.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(StoreDurabilityError) as info:
            store.create(ref.create())
        assert info.value.acknowledged == 0
    finally:
        frozen.send_signal(signal.SIGCONT)
    replica.close()
    store.close()


def _cluster_replica_of(cluster: RedisCluster, key: str) -> redis.Redis:
    """A read-only connection to the replica of the primary that owns ``key``."""
    primary = cluster.get_node_from_key(key)  # type: ignore[no-untyped-call]
    with redis.Redis(port=primary.port) as client:
        replica_port = client.info("replication")["slave0"]["port"]
    replica = redis.Redis(port=replica_port, single_connection_client=True)
    replica.execute_command("READONLY")  # type: ignore[no-untyped-call]
    return replica


def test_without_replicas_a_durable_destroy_fails_closed(private_redis: str) -> None:
    # A Redis of its own: the shared one may have replicas (then nothing would fail).
    with redis.Redis.from_url(private_redis) as admin:
        assert int(admin.info("replication")["connected_slaves"]) == 0
    store = RedisStore.from_url(private_redis, durability=ReplicaWait(1, timeout_ms=20))
    manager = SessionManager(store, session_config())
    cycle = manager.open([])
    cycle.session["a"] = 1  # commits are not durable by default: this succeeds
    cookie = (manager.commit(cycle).set_cookie or "").split(";", 1)[0]
    loaded = manager.open([cookie])
    loaded.session.logout()
    with pytest.raises(StoreDurabilityError):
        manager.commit(loaded)
    # The primary did delete it: the next request with the old cookie is anonymous.
    assert manager.open([cookie]).session.is_new
    store.close()


def test_replica_wait_is_validated() -> None:
    for bad in (
        {"replicas": 0},
        {"replicas": True},
        {"replicas": 1.5},
        {"timeout_ms": 0},
        {"timeout_ms": 1.0},
        {"timeout_ms": False},
    ):
        with pytest.raises(ConfigurationError):
            ReplicaWait(**bad)
    with pytest.raises(ConfigurationError, match="shorter than the socket timeout"):
        RedisStore.from_url("redis://127.0.0.1:1/0", timeout=0.5, durability=ReplicaWait(1, 500))
    with pytest.raises(ConfigurationError, match="shorter than the socket timeout"):
        AsyncRedisStore.from_url(
            "redis://127.0.0.1:1/0", socket_timeout=0.1, durability=ReplicaWait(1, 200)
        )
    with pytest.raises(ConfigurationError, match="ReplicaWait"):
        RedisStore(redis.Redis(), durability=1)  # type: ignore[arg-type]
    for retries in (-1, True, 1.0):
        with pytest.raises(ConfigurationError, match="retries"):
            RedisStore(redis.Redis(), retries=retries)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_durable_writes_through_the_async_cluster_client(
    redis_cluster: RedisClusterNodes, cluster_admin: RedisCluster, key_prefix: str
) -> None:
    host, port = redis_cluster.startup_nodes[0]
    policy = ReplicaWait(replicas=1, timeout_ms=300, commits=True)
    store = AsyncRedisStore(
        AsyncRedisCluster(host=host, port=port), prefix=key_prefix, durability=policy
    )
    for _ in range(6):
        ref = Ref()
        key = store.layout.session_key(ref.key)
        replica = _cluster_replica_of(cluster_admin, key)
        assert (await store.create(ref.create())).status.value == "ok"
        assert replica.exists(key) == 1
        assert await store.destroy(ref.destroy()) is True
        assert replica.exists(key) == 0
        replica.close()
    await store.client.aclose()


def _logged_in(manager: SessionManager, user: str) -> str:
    cycle = manager.open([])
    cycle.session.login(user)
    return (manager.commit(cycle).set_cookie or "").split(";", 1)[0]


@pytest.mark.usefixtures("sentinel_admin")
def test_revoke_user_moves_the_epoch_durably(
    redis_sentinel: SentinelGroup, key_prefix: str
) -> None:
    replica = _replica(redis_sentinel)
    with sync_primary(redis_sentinel.sentinel_addresses) as primary:
        store = RedisStore(primary, prefix=key_prefix, durability=DURABLE)
        manager = SessionManager(store, session_config())
        cookies = [_logged_in(manager, "ada") for _ in range(2)]
        assert manager.revoke_user("ada") == 2
        # The epoch that refuses every older session of the user is on the replica already.
        assert list(replica.scan_iter(match=f"{key_prefix}:u:*:ep")) != []
        assert all(manager.open([cookie]).session.user_id is None for cookie in cookies)

        strict = SessionManager(
            RedisStore(primary, prefix=key_prefix, durability=ReplicaWait(2, timeout_ms=50)),
            session_config(),
        )
        _logged_in(strict, "bob")  # commits are not durable by default
        with pytest.raises(StoreDurabilityError):
            strict.revoke_user("bob")
    replica.close()
