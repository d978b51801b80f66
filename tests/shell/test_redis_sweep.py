"""The Redis store's expiry sweep: its budget, its claims and the tombstones it leaves.

The sweeper suites (``tests/_async/test_lock_and_events.py``, ``tests/integration/
test_sweeper.py``) check the events on every store kind; these check what only the Redis
schedule has: a pass costs one script call per bucket (standalone), entries left over by a
sweeper that stopped half-way, tombstones of another kind, the user-index upkeep, and the
same on a Cluster, where each session is in a slot of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from sessionary.backends.redis._layout import ENDED_FIELD
from sessionary.backends.redis._sweep import SWEEP_RECORD_SCRIPT
from sessionary.backends.redis._users import END_SCRIPT
from sessionary.sansio.ops import CommitStatus, LoadStatus, UserBinding
from sessionary.stores import AsyncRedisStore
from tests.cluster import RedisClusterNodes
from tests.helpers import ABSOLUTE, IDLE, MINUTE, T0, Ref
from tests.redis_counting import AsyncCountingRedis

pytestmark = pytest.mark.anyio

LATER = T0 + IDLE + MINUTE
"""Past the idle timeout of a session created at ``T0``, before its absolute deadline."""


@pytest.fixture(params=["standalone", "cluster"])
async def sweeping(
    request: pytest.FixtureRequest, redis_url: str, key_prefix: str
) -> AsyncIterator[tuple[AsyncRedisStore, Any]]:
    """A store with ``track_expiry=True`` on either topology, and a sync admin client."""
    if request.param == "cluster":
        admin: Any = request.getfixturevalue("cluster_admin")
        nodes: RedisClusterNodes = request.getfixturevalue("redis_cluster")
        host, port = nodes.startup_nodes[0]
        client: Any = AsyncRedisCluster(host=host, port=port)
    else:
        admin = request.getfixturevalue("redis_admin")
        client = AsyncCountingRedis.from_url(redis_url)
    store = AsyncRedisStore(client, prefix=key_prefix, track_expiry=True)
    await store.warm_up()
    yield store, admin
    await client.aclose()


async def signed_in(store: AsyncRedisStore, user: str = "ada") -> Ref:
    ref = Ref()
    op = ref.create({"a": b"\x011"}, user=user)
    op.binding = UserBinding(user_key=f"tag-{user}", stamp=T0, deadline=T0 + ABSOLUTE)
    assert (await store.create(op)).status is CommitStatus.OK
    return ref


def scheduled(store: AsyncRedisStore, admin: Any) -> int:
    return sum(admin.zcard(store.layout.due_key(b)) for b in range(store.due_buckets))


async def test_a_pass_is_one_script_call_per_bucket(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """Standalone, a pass over 300 expired sessions sends one ``EVALSHA`` per bucket, one
    round trip each, whatever the number of sessions (it was two scripts per session)."""
    client = AsyncCountingRedis.from_url(redis_url)
    assert isinstance(client, AsyncCountingRedis)
    store = AsyncRedisStore(client, prefix=key_prefix, track_expiry=True)
    try:
        await store.warm_up()
        refs = [Ref() for _ in range(300)]
        for ref in refs:
            assert (await store.create(ref.create({"a": b"\x011"}))).status is CommitStatus.OK
        client.sent.clear()
        client.round_trips = 0
        swept = await store.sweep(LATER, IDLE, 500)
        assert sorted(s.key for s in swept) == sorted(r.key for r in refs)
        assert client.sent == ["EVALSHA"] * store.due_buckets
        assert client.round_trips == store.due_buckets
    finally:
        await client.aclose()


async def test_a_bucket_is_swept_in_calls_of_at_most_500_entries(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """A limit above what one call handles takes several calls (Redis is never blocked
    long), and every due entry is still handled."""
    client = AsyncCountingRedis.from_url(redis_url)
    assert isinstance(client, AsyncCountingRedis)
    store = AsyncRedisStore(client, prefix=key_prefix, track_expiry=True, due_buckets=1)
    try:
        await store.warm_up()
        for ref in (Ref() for _ in range(1200)):
            assert (await store.create(ref.create({"a": b"\x011"}))).status is CommitStatus.OK
        client.sent.clear()
        assert len(await store.sweep(LATER, IDLE, 5000)) == 1200
        assert client.sent == ["EVALSHA"] * 3
    finally:
        await client.aclose()


async def test_an_expired_session_becomes_a_tombstone_and_leaves_its_users_index(
    sweeping: tuple[AsyncRedisStore, Any],
) -> None:
    store, admin = sweeping
    ref = await signed_in(store)
    index = store.layout.user_index_key("tag-ada")
    assert admin.zscore(index, ref.key) is not None
    (swept,) = await store.sweep(LATER, IDLE)
    assert (swept.key, swept.user, swept.status) == (ref.key, "ada", LoadStatus.EXPIRED_IDLE)
    assert admin.zscore(index, ref.key) is None
    assert admin.hget(store.layout.session_key(ref.key), "a") is None
    ended = await store.load(ref.load(now=LATER))
    assert (ended.status, ended.reason) == (LoadStatus.ENDED, "expired_idle")
    assert await store.sweep(LATER, IDLE) == []
    assert scheduled(store, admin) == 0


async def test_a_session_touched_since_it_was_scheduled_is_rescheduled_not_expired(
    sweeping: tuple[AsyncRedisStore, Any],
) -> None:
    """The record decides, not the schedule: a read that moved the access time keeps it."""
    store, admin = sweeping
    ref = Ref()
    assert (await store.create(ref.create({"a": b"\x011"}))).status is CommitStatus.OK
    touched = T0 + IDLE - MINUTE
    assert (await store.load(ref.load(now=touched, touch_after=0))).status is LoadStatus.FOUND
    assert await store.sweep(LATER, IDLE) == []
    assert admin.hget(store.layout.session_key(ref.key), "a") == b"\x011"
    due = store.layout.due_key(next(b for b in range(16) if admin.zcard(store.layout.due_key(b))))
    assert admin.zscore(due, ref.key) == touched + IDLE  # rescheduled at its expiry
    (swept,) = await store.sweep(touched + IDLE, IDLE)
    assert swept.key == ref.key


async def test_the_record_check_refuses_a_live_record(
    sweeping: tuple[AsyncRedisStore, Any],
) -> None:
    """The tombstone is made by the script that checks the record, atomically: a session
    touched after a sweeper read the schedule is left whole (the old tombstone script
    emptied whatever it was sent)."""
    store, admin = sweeping
    ref = Ref()
    assert (await store.create(ref.create({"a": b"\x011"}))).status is CommitStatus.OK
    key = store.layout.session_key(ref.key)
    live = admin.eval(SWEEP_RECORD_SCRIPT.source, 1, key, T0 + MINUTE, IDLE)
    assert live == [0, T0 + IDLE]
    assert admin.hget(key, "a") == b"\x011"
    expired = admin.eval(SWEEP_RECORD_SCRIPT.source, 1, key, LATER, IDLE)
    assert expired == [1, b"expired_idle", None, None]
    assert admin.eval(SWEEP_RECORD_SCRIPT.source, 1, key, LATER, IDLE) == [2, b"expired_idle"]


async def test_a_tombstone_left_scheduled_by_a_stopped_sweeper_is_reported_once(
    sweeping: tuple[AsyncRedisStore, Any],
) -> None:
    """A sweeper that made the tombstone and stopped before its claim loses nothing: the
    next sweep claims the entry and reports it, with the tombstone's reason, once."""
    store, admin = sweeping
    ref = await signed_in(store)
    deadline = T0 + 10 * MINUTE
    key = store.layout.session_key(ref.key)
    admin.eval(SWEEP_RECORD_SCRIPT.source, 1, key, deadline, IDLE)  # expired_idle, not yet
    assert admin.hget(key, ENDED_FIELD) is None
    admin.eval(SWEEP_RECORD_SCRIPT.source, 1, key, LATER, IDLE)
    assert admin.hget(key, ENDED_FIELD) == b"expired_idle"
    (swept,) = await store.sweep(LATER, IDLE)
    assert (swept.key, swept.user, swept.status) == (ref.key, "ada", LoadStatus.EXPIRED_IDLE)
    assert await store.sweep(LATER, IDLE) == []


async def test_a_session_ended_otherwise_is_unscheduled_not_reported_as_expired(
    sweeping: tuple[AsyncRedisStore, Any],
) -> None:
    """A revoked (or evicted) session whose entry is still scheduled was reported by its
    ender: the sweep drops the entry and reports nothing (it reported an expiry before)."""
    store, admin = sweeping
    ref = await signed_in(store)
    key = store.layout.session_key(ref.key)
    assert admin.eval(END_SCRIPT.source, 1, key, b"tag-ada", "revoked") == 1
    assert scheduled(store, admin) == 1
    assert await store.sweep(LATER, IDLE) == []
    assert scheduled(store, admin) == 0
    ended = await store.load(ref.load(now=T0 + MINUTE))
    assert (ended.status, ended.reason) == (LoadStatus.ENDED, "revoked")


async def test_a_missing_record_is_reported_from_the_schedule(
    sweeping: tuple[AsyncRedisStore, Any],
) -> None:
    """A record Redis already dropped (its TTL fired) is reported from the entry's info:
    its user, and its absolute deadline when that has passed."""
    store, admin = sweeping
    ref = Ref()
    op = ref.create({"a": b"\x011"}, user="bob", deadline=T0 + 20 * MINUTE)
    assert (await store.create(op)).status is CommitStatus.OK
    admin.delete(store.layout.session_key(ref.key))
    (swept,) = await store.sweep(LATER, IDLE)
    assert (swept.key, swept.user, swept.status) == (ref.key, "bob", LoadStatus.EXPIRED_ABSOLUTE)
    assert scheduled(store, admin) == 0
