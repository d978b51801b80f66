"""``from_url()``: options checked at construction, nothing connected before the first use.

redis-py takes unknown keyword arguments without complaint: a standalone or Sentinel pool
passed an unknown option to each connection it made (``TypeError`` at the first request,
a 500). The sync ``redis+cluster://`` store connected in its constructor and raised
redis-py's ``RedisClusterException`` when no node answered; the async one connected lazily.
Now both twins behave the same: a ``ConfigurationError`` naming the option at construction,
and a lazy connection whose failures are typed store errors.
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionary.exceptions import ConfigurationError, StoreUnavailableError
from sessionary.stores import AsyncRedisStore, RedisStore
from tests.helpers import Ref
from tests.services import DEFAULT_HOST, free_port

pytestmark = pytest.mark.anyio

NOBODY = f"{DEFAULT_HOST}:1"
URLS = {
    "standalone": f"redis://{NOBODY}/0",
    "tls": f"rediss://{NOBODY}/0",
    "unix": "unix:///nonexistent/redis.sock?db=0",
    "sentinel": f"redis+sentinel://{NOBODY}/svc",
    "cluster": f"redis+cluster://{NOBODY}",
}
STORES: list[Any] = [AsyncRedisStore, RedisStore]


@pytest.mark.parametrize("store_class", STORES)
@pytest.mark.parametrize("kind", list(URLS))
async def test_an_unknown_option_fails_at_construction_and_is_named(
    store_class: Any, kind: str
) -> None:
    with pytest.raises(ConfigurationError, match="unknown Redis option 'socket_timout'") as info:
        store_class.from_url(URLS[kind], socket_timout=2)
    assert "did you mean 'socket_timeout'" in str(info.value)


@pytest.mark.parametrize("store_class", STORES)
@pytest.mark.parametrize("kind", ["standalone", "tls", "unix"])
async def test_reads_from_replicas_are_refused_without_replicas(
    store_class: Any, kind: str
) -> None:
    with pytest.raises(ConfigurationError, match="read_from_replicas needs"):
        store_class.from_url(URLS[kind], read_from_replicas=True)


@pytest.mark.parametrize("store_class", STORES)
@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
async def test_reads_from_replicas_are_the_store_s_option(store_class: Any, kind: str) -> None:
    """``read_from_replicas`` (argument or query string) is the store's, never redis-py's."""
    for store in (
        store_class.from_url(URLS[kind], read_from_replicas=True),
        store_class.from_url(f"{URLS[kind]}?read_from_replicas=yes"),
    ):
        assert store._replica_reads
    assert not store_class.from_url(URLS[kind], read_from_replicas=False)._replica_reads
    with pytest.raises(ConfigurationError, match="read_from_replicas must be true or false"):
        store_class.from_url(f"{URLS[kind]}?read_from_replicas=maybe")


@pytest.mark.parametrize("store_class", STORES)
async def test_redis_py_s_unchecked_replica_reads_are_refused(store_class: Any) -> None:
    """redis-py's own balancing would read every command from replicas, with no check."""
    with pytest.raises(ConfigurationError, match=r"load_balancing_strategy=.*read_from_replicas"):
        store_class.from_url(URLS["cluster"], load_balancing_strategy="round_robin")


@pytest.mark.parametrize("store_class", STORES)
async def test_options_in_the_query_string_are_checked_too(store_class: Any) -> None:
    with pytest.raises(ConfigurationError, match="read_from_replicas needs"):
        store_class.from_url(f"redis://{NOBODY}/0?read_from_replicas=yes")
    with pytest.raises(ConfigurationError, match="'colour'"):
        store_class.from_url(f"redis+cluster://{NOBODY}?colour=blue")
    with pytest.raises(ConfigurationError, match="invalid Redis"):
        store_class.from_url(f"redis+cluster://{NOBODY}?socket_timeout=soon")


@pytest.mark.parametrize("store_class", STORES)
async def test_known_options_are_accepted_on_every_topology(store_class: Any) -> None:
    extra: dict[str, dict[str, Any]] = {"tls": {"ssl_ca_certs": "/etc/ssl/ca.pem"}}
    for kind, url in URLS.items():
        store = store_class.from_url(
            url, username="u", password="p", client_name="app", **extra.get(kind, {})
        )
        assert store.layout.prefix == "sessionary", kind
    store_class.from_url(URLS["standalone"], socket_keepalive=True)
    store_class.from_url(URLS["cluster"], read_from_replicas=False)
    # ... but not where redis-py would refuse it at the first request (a Unix socket has no
    # keepalive) or drop it silently (the sync Cluster client has no health checks):
    with pytest.raises(ConfigurationError, match="'socket_keepalive'"):
        store_class.from_url(URLS["unix"], socket_keepalive=True)
    if store_class is RedisStore:
        with pytest.raises(ConfigurationError, match="'health_check_interval'"):
            store_class.from_url(URLS["cluster"], health_check_interval=30)
    else:
        store_class.from_url(URLS["cluster"], health_check_interval=30)


async def test_an_unreachable_cluster_fails_at_first_use_with_a_typed_error() -> None:
    url = f"redis+cluster://{DEFAULT_HOST}:{free_port()}"
    sync_store = RedisStore.from_url(url, timeout=0.2, retries=0)  # nothing connects yet
    async_store = AsyncRedisStore.from_url(url, timeout=0.2, retries=0)
    ref = Ref()
    with pytest.raises(StoreUnavailableError):
        sync_store.load(ref.load())
    with pytest.raises(StoreUnavailableError):
        sync_store.warm_up()
    with pytest.raises(StoreUnavailableError):
        await async_store.load(ref.load())
    with pytest.raises(StoreUnavailableError):
        await async_store.warm_up()
    sync_store.close()
    await async_store.aclose()
