"""Redis Cluster specifics: sessions spread evenly over the primaries."""

from __future__ import annotations

from collections import Counter

from redis.cluster import RedisCluster

from sessionary import SessionManager
from sessionary.backends.redis._layout import RedisLayout
from sessionary.sansio.ids import mint_token
from sessionary.sansio.keys import KeyRing
from sessionary.stores import RedisStore
from sessionary.testing import session_config
from tests.cluster import RedisClusterNodes

SESSIONS = 100_000


def test_a_hundred_thousand_sessions_spread_within_ten_percent(
    redis_cluster: RedisClusterNodes, cluster_admin: RedisCluster
) -> None:
    keyring = KeyRing(session_config().secrets)
    layout = RedisLayout("sessionary")
    # The client's slot map comes from the cluster itself (CLUSTER SLOTS at connect time).
    per_primary = Counter(
        cluster_admin.get_node_from_key(  # type: ignore[no-untyped-call]
            layout.session_key(keyring.storage_key(mint_token().selector))
        ).name
        for _ in range(SESSIONS)
    )
    assert len(per_primary) == 3
    even = SESSIONS / 3
    spread = {node: count / even - 1 for node, count in per_primary.items()}
    print(f"\nsessions per primary: {dict(per_primary)}; deviation from even: {spread}")
    assert all(abs(deviation) <= 0.10 for deviation in spread.values()), spread


def test_real_sessions_land_on_every_primary(
    redis_cluster: RedisClusterNodes, cluster_admin: RedisCluster, key_prefix: str
) -> None:
    host, port = redis_cluster.startup_nodes[0]
    store = RedisStore(RedisCluster(host=host, port=port), prefix=key_prefix)
    manager = SessionManager(store, session_config())
    for index in range(300):
        cycle = manager.open([])
        cycle.session["n"] = index
        manager.commit(cycle)
    per_node = Counter(
        cluster_admin.get_node_from_key(key).name  # type: ignore[no-untyped-call]
        for key in cluster_admin.scan_iter(match=f"{key_prefix}:*")
    )
    store.close()
    assert sum(per_node.values()) == 300
    assert len(per_node) == 3
    assert min(per_node.values()) > 50


def test_from_url_redis_plus_cluster(
    redis_cluster: RedisClusterNodes, cluster_admin: RedisCluster, key_prefix: str
) -> None:
    host, port = redis_cluster.startup_nodes[0]
    store = RedisStore.from_url(f"redis+cluster://{host}:{port}", prefix=key_prefix)
    store.warm_up()
    manager = SessionManager(store, session_config())
    cycle = manager.open([])
    cycle.session["a"] = 1
    cookie = (manager.commit(cycle).set_cookie or "").split(";", 1)[0]
    assert manager.open([cookie]).session["a"] == 1
    store.close()
