"""``sessionary stats`` against the local Redis, a Redis that can evict, and a Cluster."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from redis.cluster import RedisCluster

from sessionary import SessionManager
from sessionary.cli._stats_collect import eviction_risk
from sessionary.cli.commands import cli
from sessionary.stores import CachingStore, RedisStore
from sessionary.testing import session_config
from tests.cluster import RedisClusterNodes
from tests.services import RedisServer, free_port, redis_server_binary


def make_sessions(store: RedisStore, users: list[str | None]) -> SessionManager:
    """One session per entry, through the library: signed in as the user, or anonymous."""
    manager = SessionManager(store, session_config())
    for user in users:
        cycle = manager.open([])
        cycle.session["cart"] = [1, 2, 3]
        if user is not None:
            cycle.session.login(user)
        manager.commit(cycle)
    return manager


def stats_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["stats", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def populated(redis_url: str, redis_admin: redis.Redis, key_prefix: str) -> str:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    make_sessions(store, ["alice", "alice", "bob", "alice", None, None])
    store.close()
    redis_admin.set(f"{key_prefix}:s:{{companion}}:lk", b"1")  # not a session
    return key_prefix


def test_sessions_users_and_memory_on_the_local_redis(redis_url: str, populated: str) -> None:
    figures = stats_json(redis_url, "--prefix", populated)
    assert figures["live_sessions"] == 6
    assert figures["authenticated_sessions"] == 4
    assert figures["users"] == 2
    assert figures["ended_sessions"] == figures["revoked_sessions"] == 0
    assert figures["user_indexes"] == 2  # alice's and bob's (epoch keys are not counted)
    assert figures["top_users"] == [
        {"user": "alice", "sessions": 3},
        {"user": "bob", "sessions": 1},
    ]
    assert figures["memory_sample"] == 6
    assert 100 < figures["memory_per_session"] < 2000
    assert figures["used_memory"] > 0
    assert figures["primaries"] == 1
    assert figures["kind"] == "standalone"
    assert 0 <= figures["keyspace_hit_rate"] <= 1
    assert 0 < figures["ping_ms"]["min"] <= figures["ping_ms"]["max"]
    policy_warnings = [w for w in figures["warnings"] if "maxmemory-policy" in w]
    assert figures["maxmemory_policies"] == ["noeviction"]
    assert policy_warnings == []


def test_the_table_is_printed(redis_url: str, populated: str) -> None:
    result = CliRunner().invoke(cli, ["stats", redis_url, "--prefix", populated, "--top", "1"])
    assert result.exit_code == 0, result.output
    for text in (
        "live sessions",
        "memory per session",
        "noeviction",
        "top 1 users by live sessions",
        "alice",
    ):
        assert text in result.output
    assert "bob" not in result.output


def test_ended_and_revoked_sessions_are_not_live(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    manager = make_sessions(store, ["alice", "alice", "bob", "bob", "carol", None])
    # revoke_session leaves a tombstone (the client's next request learns why).
    first = manager.list_user_sessions("alice")[0]
    assert manager.revoke_session("alice", first.ref)
    # A revoke_user whose cleanup has not run yet: bob's epoch moved past his stamps.
    keys = [k for k in redis_admin.scan_iter(match=f"{key_prefix}:s:*") if k.endswith(b"}")]
    tag: Any = next(
        redis_admin.hget(k, b"\xffh") for k in keys if redis_admin.hget(k, b"\xffu") == b"bob"
    )
    redis_admin.set(store.layout.user_epoch_key(tag.decode()), str(2**45))
    store.close()
    figures = stats_json(redis_url, "--prefix", key_prefix)
    assert figures["ended_sessions"] == 1
    assert figures["revoked_sessions"] == 2
    assert figures["live_sessions"] == 3
    assert figures["authenticated_sessions"] == 2
    top = sorted((entry["user"], entry["sessions"]) for entry in figures["top_users"])
    assert top == [("alice", 1), ("carol", 1)]
    assert figures["memory_sample"] == 3


@pytest.mark.parametrize(
    ("policy", "risk"),
    [
        ("noeviction", None),
        ("allkeys-lru", "evicts any key"),
        ("allkeys-random", "evicts any key"),
        ("volatile-ttl", "every session key has one"),
        ("volatile-lfu", "every session key has one"),
        ("something-new", "may evict sessions"),
    ],
)
def test_eviction_risk(policy: str, risk: str | None) -> None:
    found = eviction_risk(policy)
    assert found is None if risk is None else risk in (found or "")


def test_an_evicting_policy_is_a_warning() -> None:
    binary = redis_server_binary("a Redis with an evicting policy")
    args = ["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]
    with RedisServer(binary, extra_args=args) as server:
        result = CliRunner().invoke(cli, ["stats", server.url])
        assert result.exit_code == 0, result.output
        assert "WARNING" in result.output
        assert "allkeys-lru evicts any key" in result.output
        assert "64.00 MiB" in result.output
        client = redis.Redis.from_url(server.url)
        client.config_set("maxmemory-policy", "volatile-lru")
        client.close()
        figures = stats_json(server.url)
    assert figures["maxmemory_policies"] == ["volatile-lru"]
    assert any("every session key has one" in w for w in figures["warnings"])
    assert figures["live_sessions"] == 0
    assert figures["memory_per_session"] is None


def test_the_local_caches_tracking_connections_are_shown(key_prefix: str) -> None:
    binary = redis_server_binary("a Redis of our own (tracking clients are counted server-wide)")
    with RedisServer(binary) as server:
        assert stats_json(server.url)["tracking_clients"] == 0
        caches = [CachingStore(RedisStore.from_url(server.url, prefix=key_prefix)) for _ in "ab"]
        try:
            for cache in caches:  # the first load opens the invalidation connection
                manager = SessionManager(cache, session_config())
                cycle = manager.open([])
                cycle.session.login("alice")
                cookie = manager.commit(cycle).set_cookie
                assert cookie is not None
                manager.commit(manager.open([cookie.split(";", 1)[0]]))
            figures = stats_json(server.url, "--prefix", key_prefix)
            assert figures["tracking_clients"] == 2
            assert figures["tracking_prefixes"] == 2  # <prefix>:s: and <prefix>:u:
            result = CliRunner().invoke(cli, ["stats", server.url, "--prefix", key_prefix])
            assert "tracking (local caches)" in result.output
            assert "2 (2 prefixes)" in result.output
        finally:
            for cache in caches:
                cache.close()


@pytest.mark.slow
def test_cluster_sessions_are_counted_on_every_primary(
    redis_cluster: RedisClusterNodes, cluster_admin: RedisCluster, key_prefix: str
) -> None:
    host, port = redis_cluster.startup_nodes[0]
    store = RedisStore(RedisCluster(host=host, port=port), prefix=key_prefix)
    make_sessions(store, [f"user{i % 4}" for i in range(24)])
    store.client.close()
    figures = stats_json(f"redis+cluster://{host}:{port}", "--prefix", key_prefix)
    assert figures["kind"] == "cluster"
    assert figures["primaries"] == 3
    assert figures["live_sessions"] == 24
    assert figures["users"] == 4
    assert {entry["sessions"] for entry in figures["top_users"]} == {6}


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["memory://"], "invalid Redis URL", 2),
        (["redis://localhost:6379/0", "--prefix", "a*b"], "key prefix 'a*b'", 2),
        (["redis://localhost:6379/0", "--top", "5000"], "0<=x<=1000", 2),
    ],
)
def test_bad_input_is_refused_clearly(args: list[str], message: str, code: int) -> None:
    result = CliRunner().invoke(cli, ["stats", *args])
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_unreachable_redis_is_a_clear_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = CliRunner().invoke(cli, ["stats", url])
    assert result.exit_code == 1
    assert f"cannot use {url}: cannot reach Redis" in result.output
