"""The Cluster durable-write helpers' decisions (their effect on a real Cluster is tested in
tests/integration/test_failover.py and tests/integration/test_redis_durability.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, SlotNotCoveredError

from sessionary.backends.redis._async.io import (
    async_execute_pipeline,
    async_refresh_slots,
    async_send_pipeline,
)
from sessionary.backends.redis._cluster import owner_moved
from sessionary.backends.redis._pool import ClustersToRefresh
from sessionary.backends.redis._sync.io import sync_execute_pipeline
from sessionary.exceptions import StoreUnavailableError

pytestmark = pytest.mark.anyio


@dataclass
class Node:
    name: str


class SlotMap:
    """Answers ``get_node_from_key`` like redis-py's client: a node, None, or an error."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def get_node_from_key(self, key: str) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_the_same_primary_by_name_has_not_moved() -> None:
    # redis-py may rebuild its ClusterNode objects on a refresh: compare names, not identity
    assert not owner_moved(SlotMap(Node("127.0.0.1:7000")), "k", Node("127.0.0.1:7000"))


@pytest.mark.parametrize(
    "answer",
    [Node("127.0.0.1:7001"), None, SlotNotCoveredError("slot 1 not covered")],
    ids=["another primary", "no node", "slot not covered"],
)
def test_another_owner_or_no_known_owner_counts_as_moved(answer: Any) -> None:
    assert owner_moved(SlotMap(answer), "k", Node("127.0.0.1:7000"))


class NodesManager:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.calls = 0

    async def initialize(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


class Client:
    def __init__(self, error: Exception | None = None) -> None:
        self.nodes_manager = NodesManager(error)


@pytest.mark.parametrize(
    "error",
    [None, RedisClusterException("no reachable node"), RedisConnectionError("refused")],
    ids=["refreshed", "no node answers", "connection refused"],
)
async def test_refreshing_the_slot_map_never_hides_the_original_error(
    error: Exception | None,
) -> None:
    client: Any = Client(error)
    await async_refresh_slots(client)  # never raises: the caller re-raises its own error
    assert client.nodes_manager.calls == 1


class FailingSyncPipe:
    def execute(self) -> list[Any]:
        raise RedisConnectionError("connection refused")


def test_the_sync_client_needs_no_refresh() -> None:
    assert ClustersToRefresh == ()  # redis-py's sync cluster pipeline refreshes by itself
    client: Any = Client(RedisClusterException("would fail if called"))
    with pytest.raises(RedisConnectionError):
        sync_execute_pipeline(client, FailingSyncPipe())
    assert client.nodes_manager.calls == 0


async def test_noscript_is_no_reason_to_refresh_the_slot_map() -> None:
    class NoScriptPipe:
        async def execute(self) -> list[Any]:
            raise NoScriptError("NOSCRIPT No matching script")

    cluster = AsyncRedisCluster(host="127.0.0.1", port=1)  # lazy: never connects here
    manager = NodesManager(None)
    cluster.nodes_manager = manager  # type: ignore[assignment]
    with pytest.raises(NoScriptError):
        await async_execute_pipeline(cluster, NoScriptPipe())
    assert manager.calls == 0


class FailingPipe:
    async def execute(self) -> list[Any]:
        raise RedisConnectionError("connection refused")


async def test_a_failed_cluster_pipeline_refreshes_the_slot_map_then_raises_typed() -> None:
    cluster = AsyncRedisCluster(host="127.0.0.1", port=1)  # lazy: never connects here
    manager = NodesManager(None)
    cluster.nodes_manager = manager  # type: ignore[assignment]
    with pytest.raises(StoreUnavailableError):
        await async_send_pipeline(cluster, FailingPipe(), "reading sessions")
    assert manager.calls == 1


async def test_a_failed_standalone_pipeline_just_raises_typed() -> None:
    with pytest.raises(StoreUnavailableError):
        await async_send_pipeline(object(), FailingPipe(), "reading sessions")
