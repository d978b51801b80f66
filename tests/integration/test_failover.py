"""Failover under load: SIGKILL the Sentinel-managed primary, then a Cluster primary.

Each test starts a disposable topology (the shared ones stay untouched) with two replicas per
primary, so that after the promotion the new primary still has a replica and durable writes
(``ReplicaWait(commits=True)``) can go on. Several clients keep reading and writing their
own sessions through the ASGI adapter while the primary dies. See :mod:`tests.failover` for
what every response is checked for; here we assert the totals and report the time to
recovery (printed, and recorded as a junit property).
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from sessionary import AsyncSessionManager
from sessionary.exceptions import StoreError
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import CommitStatus
from sessionary.stores import AsyncRedisStore, ReplicaWait
from sessionary.testing import session_config
from tests.cluster import RedisClusterNodes
from tests.failover import (
    FAILURE_TYPES,
    RecordingObserver,
    final_check,
    make_app,
    run_load,
    tally_redis_errors,
)
from tests.helpers import Ref
from tests.sentinel import SentinelGroup
from tests.services import redis_server_binary

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# The two load tests run a real distributed system (up to 14 processes) on a machine that
# also runs the rest of the suite in parallel. The Cluster one failed once in CI (every
# client kept failing with fast unavailability errors long after the kill; not reproduced in
# about 40 runs since, most under added CPU load); the Sentinel one once in five full-suite
# runs, traced to the test group's failover-timeout (see tests/sentinel.py). The durable-writes
# test failed once in three full-suite runs on a loaded machine ("no recovery in 30.0 s"; it
# passes alone in about 4 s; not reproduced since, cause not found). They get one rerun, so a
# rare stall does not decide a CI run; the first attempt's failure, with the servers' view and
# the redis-py errors it saw, stays in the report (``--rerun-show-tracebacks`` in the pytest
# options).
RERUN_ONCE = pytest.mark.flaky(reruns=1)

DURABLE = ReplicaWait(replicas=1, timeout_ms=250, commits=True)
RECOVERY_LIMIT_S = 30.0


@pytest.fixture
def binary() -> str:
    return redis_server_binary("a disposable topology")


@pytest.fixture
def sentinel_group(binary: str) -> Iterator[SentinelGroup]:
    with SentinelGroup(binary, replicas=2, down_after_ms=1000) as group:
        yield group


@pytest.fixture
def cluster(binary: str) -> Iterator[RedisClusterNodes]:
    with RedisClusterNodes(binary, replicas=2) as nodes:
        yield nodes


def _no_recovery(failures: list[str], redis_errors: Counter[str], servers_state: str) -> str:
    """The failure report of a test whose one client never recovered: what it saw, what the
    redis-py errors behind it were, and what the servers think of the topology now."""
    errors = "; ".join(f"{n}x {text}" for text, n in redis_errors.most_common(8))
    return (
        f"no recovery in {RECOVERY_LIMIT_S} s after {len(failures)} failures "
        f"(last: {failures[-3:]}); redis-py errors (most frequent first): {errors}; "
        f"servers now: {servers_state}"
    )


async def _load_through_failover(
    store: AsyncRedisStore,
    kill: Callable[[], None],
    topology: str,
    record_property: Callable[[str, object], None],
    servers_state: Callable[[], str],
) -> None:
    observer = RecordingObserver()
    app = make_app(store, observer)
    try:
        with tally_redis_errors() as redis_errors:
            outcome = await run_load(app, clients=12, kill=kill, limit_s=RECOVERY_LIMIT_S + 5)
            final_problems = await final_check(app, outcome)
    finally:
        await store.aclose()
        gc.collect()  # connections redis-py lost track of: reclaimed (and reported) here
    summary = (
        f"{topology} failover: {outcome.summary()}; store outcomes {dict(observer.outcomes)}; "
        f"escaped exceptions {dict(observer.crashes)}"
    )
    if final_problems or outcome.recovery is None:  # what the servers and the client saw
        summary += f"; servers now: {servers_state()}; redis-py errors (most frequent first): "
        summary += "; ".join(f"{n}x {text}" for text, n in redis_errors.most_common(8))
    print(f"\n{summary}")
    record_property(f"{topology}_failover", summary)
    record_property(f"{topology}_recovery_s", outcome.recovery)
    assert observer.crashes == {}, summary
    assert outcome.violations == [], summary
    assert final_problems == [], summary
    assert outcome.failed, f"the kill caused no failure at all: {summary}"
    assert outcome.recovery is not None, f"not every client recovered: {summary}"
    assert outcome.recovery < RECOVERY_LIMIT_S, summary
    errors = {name for name in observer.outcomes if name[:1].isupper()}
    assert errors <= FAILURE_TYPES, f"untyped or unexpected failures: {errors}; {summary}"


# redis-py's asyncio Sentinel loses track of some connections it opens to the sentinels while
# it rediscovers the primary during the failover (their creation stack is
# Sentinel.discover_master -> sentinel_masters); they are reclaimed by the garbage collector
# with an "unclosed StreamWriter" ResourceWarning. Not sessionary's connections: collected
# while the loop runs (gc.collect() above) and ignored here.
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function StreamWriter.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function AbstractConnection.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)
@RERUN_ONCE
async def test_sigkill_of_the_sentinel_primary_under_load(
    sentinel_group: SentinelGroup, record_property: Callable[[str, object], None]
) -> None:
    store = AsyncRedisStore.from_url(sentinel_group.url, timeout=0.5, retries=1, durability=DURABLE)
    primary = sentinel_group.primary
    assert primary is not None
    assert primary.process is not None
    await _load_through_failover(
        store, primary.process.kill, "sentinel", record_property, sentinel_group.describe
    )


@RERUN_ONCE
async def test_sigkill_of_a_cluster_primary_under_load(
    cluster: RedisClusterNodes, record_property: Callable[[str, object], None]
) -> None:
    host, port = cluster.startup_nodes[0]
    store = AsyncRedisStore.from_url(
        f"redis+cluster://{host}:{port}", timeout=0.5, retries=1, durability=DURABLE
    )
    victim = cluster.servers[1].process  # a primary that is not the startup node
    assert victim is not None
    await _load_through_failover(store, victim.kill, "cluster", record_property, cluster.describe)


@RERUN_ONCE
async def test_durable_writes_alone_follow_a_cluster_failover(cluster: RedisClusterNodes) -> None:
    """Only durable writes (pipelines) reach the dead primary's slots: they must recover.

    redis-py's asyncio Cluster pipeline does not refresh the slot map after a connection
    error; without the store's own refresh every write would go to the dead address forever.
    """
    host, port = cluster.startup_nodes[0]
    store = AsyncRedisStore.from_url(
        f"redis+cluster://{host}:{port}", timeout=0.5, retries=0, durability=DURABLE
    )
    victim = cluster.servers[1]
    assert victim.process is not None
    client: Any = store.client
    try:
        await client.initialize()
        refs = (Ref() for _ in range(10_000))
        on_victim = [
            ref
            for ref in refs
            if client.get_node_from_key(store.layout.session_key(ref.key)).port == victim.port
        ][:3]
        result = await store.create(on_victim[0].create({"n": b"0"}))
        assert result.status is CommitStatus.OK
        victim.process.kill()
        killed = time.monotonic()
        failures: list[str] = []
        written = 1
        with tally_redis_errors() as redis_errors:
            while written < len(on_victim) and time.monotonic() - killed < RECOVERY_LIMIT_S:
                try:
                    result = await store.create(on_victim[written].create({"n": b"1"}))
                except StoreError as exc:
                    failures.append(type(exc).__name__)
                    await anyio.sleep(0.05)
                    continue
                assert result.status is CommitStatus.OK
                written += 1
        recovery = time.monotonic() - killed
        print(f"\ndurable writes only: {len(failures)} failures, recovered in {recovery:.2f} s")
        if written < len(on_victim):
            pytest.fail(_no_recovery(failures, redis_errors, cluster.describe()))
        assert set(failures) <= FAILURE_TYPES, failures
    finally:
        await store.aclose()


async def test_device_lists_alone_follow_a_cluster_failover(cluster: RedisClusterNodes) -> None:
    """Only pipelines (the user index, the session records) reach the dead primary's slots."""
    host, port = cluster.startup_nodes[0]
    store = AsyncRedisStore.from_url(f"redis+cluster://{host}:{port}", timeout=0.5, retries=0)
    victim = cluster.servers[1]
    assert victim.process is not None
    client: Any = store.client
    manager = AsyncSessionManager(store, session_config())
    try:
        await client.initialize()
        users = (f"user-{n}" for n in range(10_000))
        user = next(
            u
            for u in users
            if client.get_node_from_key(store.layout.user_index_key(KeyRing.user_key(u))).port
            == victim.port
        )
        cycle = await manager.open([])
        cycle.session.login(user)
        await manager.commit(cycle)
        victim.process.kill()
        killed = time.monotonic()
        failures: list[str] = []
        listed = None
        with tally_redis_errors() as redis_errors:
            while listed is None and time.monotonic() - killed < RECOVERY_LIMIT_S:
                try:
                    listed = await manager.list_user_sessions(user)
                except StoreError as exc:
                    failures.append(type(exc).__name__)
                    await anyio.sleep(0.05)
        recovery = time.monotonic() - killed
        print(f"\ndevice list only: {len(failures)} failures, recovered in {recovery:.2f} s")
        if listed is None:
            pytest.fail(_no_recovery(failures, redis_errors, cluster.describe()))
        assert len(listed) == 1
        assert set(failures) <= FAILURE_TYPES, failures
    finally:
        await store.aclose()
