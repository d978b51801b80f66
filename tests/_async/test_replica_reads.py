"""Reads from replicas (``read_from_replicas=True``) on a real Sentinel group and Cluster.

docs/redis.md, "Reads from replicas", states the semantics these tests hold the store to:

* reads are answered by a replica (counted on the servers, ``INFO commandstats``);
* a request that wrote sees its write on the next request although the replica lags
  (``CLIENT PAUSE WRITE`` on every replica: still connected, still answering reads, no
  longer applying its primary's stream); the reads go to the primary, counted; writes to
  other sessions do not send a session's reads to the primary; a replica that does not
  answer in time is passed over;
* a revocation is never hidden by a replica: a per-session revocation or a rotation is
  acknowledged only once the replica holds it (and is then refused there at once), and
  "log out everywhere" is seen at once while the replica lags (the epoch is read from the
  primary).

The generated sync twin runs the same scenarios.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from sessionary import AsyncSessionManager, Session
from sessionary.exceptions import StoreDurabilityError
from sessionary.stores import AsyncRedisStore
from sessionary.testing import FakeClock, session_config
from tests._async.test_users import Device
from tests.replica_nodes import DataNodes

pytestmark = pytest.mark.anyio

READS = 20
StoreMaker = Callable[[], AsyncRedisStore]


@pytest.fixture(params=["sentinel", "cluster"])
async def topology(
    request: pytest.FixtureRequest, key_prefix: str
) -> AsyncIterator[tuple[StoreMaker, DataNodes]]:
    """A maker of replica-reading stores (one per simulated process) and the data nodes."""
    if request.param == "sentinel":
        request.getfixturevalue("sentinel_admin")  # deletes this test's keys afterwards
        group = request.getfixturevalue("redis_sentinel")
        url, ports = group.url, [server.port for server in group.servers]
    else:
        request.getfixturevalue("cluster_admin")
        cluster = request.getfixturevalue("redis_cluster")
        host, port = cluster.startup_nodes[0]
        url, ports = f"redis+cluster://{host}:{port}", [s.port for s in cluster.servers]
    made: list[AsyncRedisStore] = []
    nodes = DataNodes(ports)
    nodes.wait_advertised()

    def make() -> AsyncRedisStore:
        store = AsyncRedisStore.from_url(f"{url}?read_from_replicas=true", prefix=key_prefix)
        made.append(store)
        return store

    yield make, nodes
    for store in made:
        await store.aclose()


def put(value: int) -> Callable[[Session], None]:
    def handler(session: Session) -> None:
        session["n"] = value

    return handler


async def one_device(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> tuple[AsyncRedisStore, Device, DataNodes]:
    """A store, a device whose session holds ``n = 1``, and every replica caught up."""
    make, nodes = topology
    store = make()
    device = Device(AsyncSessionManager(store, session_config(clock=clock)))
    await device.request(put(1))
    nodes.wait_caught_up()
    return store, device, nodes


async def test_reads_are_answered_by_a_replica(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> None:
    store, device, nodes = await one_device(topology, clock)
    replicas, primaries = nodes.replicas, nodes.primaries
    on_replicas, on_primaries = nodes.hgetall_calls(replicas), nodes.hgetall_calls(primaries)
    for _ in range(READS):
        assert (await device.request())["n"] == 1
    assert nodes.hgetall_calls(replicas) - on_replicas == READS, store.replica_stats.fallbacks
    assert nodes.hgetall_calls(primaries) - on_primaries == 0
    assert (store.replica_stats.replica, store.replica_stats.primary) == (READS, 0)


async def test_a_request_sees_its_own_write_while_the_replica_lags(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> None:
    store, device, nodes = await one_device(topology, clock)
    primaries = nodes.primaries
    with nodes.paused():
        on_primaries = nodes.hgetall_calls(primaries)
        for value in (2, 3, 4):
            await device.request(put(value))  # its load: the replica (nothing written since)
            assert (await device.request())["n"] == value
        # Every read after the first write went to the primary, each one counted...
        assert store.replica_stats.replica == 1
        assert store.replica_stats.fallbacks == {"behind": 5}
        assert nodes.hgetall_calls(primaries) - on_primaries == 5
        # ... while the replicas, still connected, held the first value.
        assert all(nodes.role(port)[3] == b"connected" for port in nodes.replicas)
    nodes.wait_caught_up()
    assert (await device.request())["n"] == 4
    assert store.replica_stats.replica == 2


async def test_a_replica_that_does_not_answer_in_time_is_passed_over(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> None:
    """The read goes to the primary (counted); the half-read connection is not reused."""
    store, device, nodes = await one_device(topology, clock)
    primaries = nodes.primaries
    on_primaries = nodes.hgetall_calls(primaries)
    with nodes.paused(1.5, everything=True):  # longer than the store's 1 s socket timeout
        assert (await device.request())["n"] == 1
    assert store.replica_stats.fallbacks == {"error": 1}
    assert nodes.hgetall_calls(primaries) - on_primaries == 1
    nodes.wait_caught_up()
    for _ in range(3):  # the replica answers again, each reply the right one
        assert (await device.request())["n"] == 1
    assert store.replica_stats.replica == 3


async def test_writes_to_other_sessions_do_not_hold_a_session_back(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> None:
    """The floor is per session: the replica still answers for sessions nobody wrote."""
    store, device, nodes = await one_device(topology, clock)
    other = Device(device.manager)
    await other.request(put(7))
    nodes.wait_caught_up()
    with nodes.paused():
        await other.request(put(8))
        assert (await device.request())["n"] == 1  # unchanged: the replica answers
        assert (await other.request())["n"] == 8  # just written: the primary answers
    assert store.replica_stats.fallbacks == {"behind": 1}


def two_processes(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> tuple[AsyncSessionManager, AsyncSessionManager, AsyncRedisStore, DataNodes]:
    """Managers A and B of one application on two stores (two processes); B's store."""
    make, nodes = topology
    config = session_config(clock=clock)
    store_b = make()
    return AsyncSessionManager(make(), config), AsyncSessionManager(store_b, config), store_b, nodes


def same_browser(device: Device, manager: AsyncSessionManager) -> Device:
    """The same browser (cookie, agent) sending its next requests to ``manager``."""
    copy = Device(manager, ua=device.ua)
    copy.cookie = device.cookie
    return copy


async def test_a_session_made_on_another_process_is_found_while_the_replica_lags(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> None:
    """A's new session is not on the replica yet: B's replica finds nothing, the primary does."""
    on_a, on_b, store_b, nodes = two_processes(topology, clock)
    nodes.wait_caught_up()
    with nodes.paused():
        laptop = Device(on_a)
        await laptop.login("alice")  # a new session, signed in at once
        assert await same_browser(laptop, on_b).whoami() == "alice"
    assert store_b.replica_stats.fallbacks == {"not found": 1}
    assert store_b.replica_stats.replica == 0


async def test_an_acknowledged_revocation_is_refused_by_the_replica_at_once(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> None:
    """Two processes: A ends a session or rotates its ID; B reads from the replica."""
    on_a, on_b, store_b, nodes = two_processes(topology, clock)
    phone, laptop = Device(on_a, ua="Phone/1.0"), Device(on_a)
    await phone.login("alice")
    await laptop.login("alice")
    nodes.wait_caught_up()
    phone_on_b, laptop_on_b = same_browser(phone, on_b), same_browser(laptop, on_b)
    assert await phone_on_b.whoami() == "alice"
    assert await laptop_on_b.whoami() == "alice"

    listed = await on_a.list_user_sessions("alice")
    ref = next(s.ref for s in listed if s.user_agent == "Phone/1.0")
    assert await on_a.revoke_session("alice", ref)  # acknowledged by the replica
    assert await phone_on_b.whoami() is None
    assert phone_on_b.last is not None
    assert phone_on_b.last.end_reason == "revoked"

    old = laptop.cookie
    await laptop.request(lambda session: session.rotate())
    assert laptop.cookie != old
    assert await laptop_on_b.whoami() is None  # the old ID
    # B's replica answered every read; it found no record for the old ID's validator, and
    # the primary confirmed (a replica's "not found" always is).
    assert store_b.replica_stats.replica == 3
    assert store_b.replica_stats.fallbacks == {"not found": 1}


async def test_log_out_everywhere_is_seen_at_once_while_the_replica_lags(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> None:
    on_a, on_b, store_b, nodes = two_processes(topology, clock)
    laptop = Device(on_a)
    await laptop.login("alice")
    nodes.wait_caught_up()
    laptop_on_b = same_browser(laptop, on_b)
    assert await laptop_on_b.whoami() == "alice"
    with nodes.paused():
        # The epoch moved on the primary, but no replica could acknowledge it in time.
        with pytest.raises(StoreDurabilityError):
            await on_a.revoke_user("alice")
        assert await laptop_on_b.whoami() is None
        assert laptop_on_b.last is not None
        assert laptop_on_b.last.end_reason == "revoked"
    assert store_b.replica_stats.replica == 2  # the record was the replica's, the epoch not


async def test_a_rotation_waits_for_the_replica(
    topology: tuple[StoreMaker, DataNodes], clock: FakeClock
) -> None:
    """A new ID is acknowledged only once the replica holds it; a plain update does not wait."""
    _, device, nodes = await one_device(topology, clock)
    old = device.cookie
    with nodes.paused():
        await device.request(put(2))  # an update keeping the ID: no wait
        with pytest.raises(StoreDurabilityError):
            await device.request(lambda session: session.rotate())
    assert device.cookie == old
