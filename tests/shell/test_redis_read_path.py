"""The Redis store's read path without Lua (``backends/redis/_reads.py``) on a real Redis.

* It gives the load script's verdict, record and server-side effects for any record state
  (a differential property test: one copy of the record read each way).
* Its touch is conditional: a record ended, deleted or rotated between the read and the
  touch is never written, let alone recreated.
* Its round trips: one for a read, the user's epoch in the same write once the store knows
  the record's user tag; a second only for a due touch, an expired record, or the first
  read of a signed-in session by a store that has not seen it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionary.backends.redis._layout import (
    ENDED_FIELD,
    META_FIELD,
    STAMP_FIELD,
    USER_KEY_FIELD,
    pack_meta,
    unpack_meta,
)
from sessionary.backends.redis._reads import TagMemory
from sessionary.sansio.ops import CommitStatus, Load, LoadResult, LoadStatus
from sessionary.stores import RedisStore
from tests.helpers import IDLE, MINUTE, T0, TOUCH, Ref
from tests.redis_counting import CountingRedis, counted_store


@pytest.fixture
def counted(redis_url: str, key_prefix: str) -> Iterator[tuple[RedisStore, CountingRedis]]:
    """A sync Redis store (generated code) and its counting client."""
    with counted_store(redis_url, key_prefix) as pair:
        yield pair


def _plant(
    admin: redis.Redis,
    store: RedisStore,
    ref: Ref,
    *,
    accessed: int,
    idle: int,
    deadline: int,
    ended: bytes | None,
    tag: str | None,
) -> None:
    """A record under ``ref``'s key with the given metadata (written as the scripts write it)."""
    create = ref.create(
        {"a": b"\x011"}, now=T0 - 60 * MINUTE, nonce=ref.digest[:8], seal=ref.digest
    )
    assert store.create(create).status is CommitStatus.OK
    key = store.layout.session_key(ref.key)
    meta = pack_meta(
        created=T0 - 60 * MINUTE,
        accessed=accessed,
        idle=idle,
        deadline=deadline,
        digest=ref.digest,
        nonce=ref.digest[:8],
        version=1,
        auth_time=None,
    )
    admin.hset(key, META_FIELD, meta)
    if ended is not None:
        admin.hset(key, ENDED_FIELD, ended)
    if tag is not None:
        admin.hset(key, mapping={USER_KEY_FIELD: tag.encode(), STAMP_FIELD: str(T0 - MINUTE)})


def _state(admin: redis.Redis, key: str) -> tuple[dict[Any, Any], int]:
    return admin.hgetall(key), admin.pttl(key)


def _same(a: LoadResult, b: LoadResult) -> None:
    assert (a.status, a.reason) == (b.status, b.reason)
    assert (a.record is None) == (b.record is None)
    if a.record is not None and b.record is not None:
        assert a.record.attributes == b.record.attributes
        assert a.record.meta._replace(seal=b"") == b.record.meta._replace(seal=b"")
        assert (a.record.touched, a.record.user_epoch) == (b.record.touched, b.record.user_epoch)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    case=st.fixed_dictionaries(
        {
            "accessed_ago": st.sampled_from(
                [0, 1, TOUCH - 1, TOUCH, TOUCH + 1, IDLE - 1, IDLE, IDLE + 5]
            )
            | st.integers(0, 2 * IDLE),
            "idle": st.sampled_from([IDLE, 10 * MINUTE, 2 * IDLE]),
            "max_idle": st.sampled_from([IDLE, 10 * MINUTE]),
            "deadline_in": st.sampled_from([-1, 0, 1, MINUTE]) | st.integers(-MINUTE, 90 * MINUTE),
            "touch_after": st.sampled_from([0, TOUCH, 10 * MINUTE]),
            "other_validator": st.sampled_from([False, False, False, True]),
            "ended": st.sampled_from([None, None, None, b"revoked", b"evicted"]),
            "user": st.sampled_from([None, "no-epoch", "with-epoch"]),
            "absent": st.sampled_from([False, False, False, True]),
            "linger": st.sampled_from([0, MINUTE]),
        }
    )
)
def test_the_read_path_agrees_with_the_load_script(
    sync_redis_store: RedisStore, redis_admin: redis.Redis, case: dict[str, Any]
) -> None:
    """Two copies of one record, one read each way: same result, same record left behind."""
    _compare(sync_redis_store, redis_admin, **case)


BOUNDARIES = {
    "at-the-deadline": {"deadline_in": 0},
    "a-ms-before-the-deadline": {"deadline_in": 1},
    "idle-expired-to-the-ms": {"accessed_ago": IDLE},
    "a-ms-before-idle-expiry": {"accessed_ago": IDLE - 1},
    "idle-capped-by-the-config": {"accessed_ago": 10 * MINUTE, "max_idle": 10 * MINUTE},
    "touch-due-to-the-ms": {"accessed_ago": TOUCH},
    "touch-a-ms-early": {"accessed_ago": TOUCH - 1},
    "ended": {"ended": b"revoked"},
    "ended-and-expired": {"ended": b"revoked", "deadline_in": -1},
    "another-validator": {"other_validator": True},
    "absent": {"absent": True},
    "user-with-epoch-touched": {"user": "with-epoch", "accessed_ago": TOUCH},
}


@pytest.mark.parametrize("case", BOUNDARIES.values(), ids=BOUNDARIES.keys())
def test_the_read_path_agrees_at_the_boundaries(
    sync_redis_store: RedisStore, redis_admin: redis.Redis, case: dict[str, Any]
) -> None:
    """The property above at each decision's boundary, every run."""
    base: dict[str, Any] = {
        "accessed_ago": MINUTE,
        "idle": IDLE,
        "max_idle": IDLE,
        "deadline_in": 60 * MINUTE,
        "touch_after": TOUCH,
        "other_validator": False,
        "ended": None,
        "user": None,
        "absent": False,
        "linger": MINUTE,
    }
    _compare(sync_redis_store, redis_admin, **{**base, **case})


def _compare(
    store: RedisStore,
    redis_admin: redis.Redis,
    *,
    accessed_ago: int,
    idle: int,
    max_idle: int,
    deadline_in: int,
    touch_after: int,
    other_validator: bool,
    ended: bytes | None,
    user: str | None,
    absent: bool,
    linger: int,
) -> None:
    digest = secrets.token_bytes(16)
    refs = [Ref(digest=digest), Ref(digest=digest)]
    tag = secrets.token_urlsafe(16) if user else None
    if user == "with-epoch":
        redis_admin.set(store.layout.user_epoch_key(tag or ""), T0 - 2 * MINUTE)
    for ref in refs:
        if not absent:
            _plant(
                redis_admin,
                store,
                ref,
                accessed=T0 - accessed_ago,
                idle=idle,
                deadline=T0 + deadline_in,
                ended=ended,
                tag=tag,
            )

    def load(ref: Ref) -> Load:
        return ref.load(
            max_idle=max_idle,
            touch_after=touch_after,
            digest=secrets.token_bytes(16) if other_validator else None,
            linger=linger,
        )

    read = store.load(load(refs[0]))
    scripted = store._load_by_script(load(refs[1]))
    _same(read, scripted)
    (fields_a, ttl_a), (fields_b, ttl_b) = (
        _state(redis_admin, store.layout.session_key(ref.key)) for ref in refs
    )
    # A record left to expire within seconds (a TTL of 1 ms is common here: the deadline is
    # 1 ms away) may be gone by the time it is looked at: the two agree on "soon or gone".
    soon = [ttl_a < 10_000, ttl_b < 10_000]  # -2: gone
    assert soon[0] == soon[1]
    if not soon[0]:
        assert fields_a == fields_b
        assert abs(ttl_a - ttl_b) <= 10_000  # wall time between the two reads, on a busy machine


def _interleave(store: RedisStore, change: Any) -> None:
    """Make ``change`` happen right after the store's ``HGETALL``, before anything else."""
    read = store._read

    def read_then_change(*args: Any) -> Any:
        reply = read(*args)
        change()
        return reply

    store._read = read_then_change  # type: ignore[method-assign,assignment]


@pytest.mark.parametrize(
    "change", ["logout", "rotation", "tombstone", "retyped", "deadline-now", "idle-ran-out"]
)
def test_a_touch_never_writes_a_record_changed_after_the_read(
    sync_redis_store: RedisStore, redis_admin: redis.Redis, change: str
) -> None:
    """A session logged out, rotated, ended, replaced by another type or expired between the
    read and its due touch: the touch writes nothing (no recreated key, no moved access
    time), the load script's verdict stands."""
    store = sync_redis_store
    ref = Ref()
    key = store.layout.session_key(ref.key)
    assert store.create(ref.create({"a": b"\x011"})).status is CommitStatus.OK
    before = redis_admin.hget(key, META_FIELD)
    assert isinstance(before, bytes)
    rotated = secrets.token_bytes(16)
    now = T0 + TOUCH + 1

    def concurrent() -> None:
        if change == "logout":
            redis_admin.delete(key)
        elif change == "rotation":
            redis_admin.hset(key, META_FIELD, before[:23] + rotated + before[39:])
        elif change == "retyped":
            redis_admin.delete(key)
            redis_admin.set(key, b"not a session")
        elif change == "deadline-now":  # another node cut the deadline to this very moment
            redis_admin.hset(key, META_FIELD, before[:17] + now.to_bytes(6, "big") + before[23:])
        elif change == "idle-ran-out":  # another node's access stamp: idle over right now
            accessed = (now - IDLE).to_bytes(6, "big")
            redis_admin.hset(key, META_FIELD, before[:7] + accessed + before[13:])
        else:
            redis_admin.hset(key, ENDED_FIELD, b"revoked")

    _interleave(store, concurrent)
    result = store.load(ref.load(now=now))
    expected = {
        "logout": LoadStatus.MISSING,
        "rotation": LoadStatus.INVALID,
        "tombstone": LoadStatus.ENDED,
        "retyped": LoadStatus.CORRUPT,
        "deadline-now": LoadStatus.EXPIRED_ABSOLUTE,
        "idle-ran-out": LoadStatus.EXPIRED_IDLE,
    }
    assert result.status is expected[change]
    if change == "logout":
        assert redis_admin.exists(key) == 0  # never recreated
    elif change == "retyped":
        assert redis_admin.get(key) == b"not a session"
    elif change in ("deadline-now", "idle-ran-out"):
        assert redis_admin.exists(key) == 0  # the load script deleted it
    else:
        after = redis_admin.hget(key, META_FIELD)
        assert isinstance(after, bytes)
        meta = unpack_meta(after, None)
        assert meta is not None
        assert meta.accessed == T0  # not touched


def test_round_trips(counted: tuple[RedisStore, CountingRedis], redis_admin: redis.Redis) -> None:
    store, client = counted
    ref = Ref()
    tag = secrets.token_urlsafe(16)
    assert store.create(ref.create({"a": b"\x011"})).status is CommitStatus.OK
    redis_admin.hset(
        store.layout.session_key(ref.key),
        mapping={USER_KEY_FIELD: tag.encode(), STAMP_FIELD: str(T0 - MINUTE)},
    )
    redis_admin.set(store.layout.user_epoch_key(tag), T0 - 2 * MINUTE)

    def counted_load(now: int) -> tuple[LoadResult, list[str], int]:
        client.sent.clear()
        client.round_trips = 0
        result = store.load(ref.load(now=now))
        return result, list(client.sent), client.round_trips

    # A signed-in session this store has not seen: the epoch's key is known after the read.
    result, sent, trips = counted_load(T0 + 1)
    assert (result.status, sent, trips) == (LoadStatus.FOUND, ["HGETALL", "GET"], 2)
    assert result.record is not None
    assert result.record.user_epoch == T0 - 2 * MINUTE
    # Seen once: the hash and the epoch in one write.
    result, sent, trips = counted_load(T0 + 2)
    assert (result.status, sent, trips) == (LoadStatus.FOUND, ["HGETALL", "GET"], 1)
    assert result.record is not None
    assert (result.record.user_epoch, result.record.touched) == (T0 - 2 * MINUTE, False)
    # A due touch: the conditional touch script, which reads the epoch on the way.
    result, sent, trips = counted_load(T0 + TOUCH)
    assert (sent, trips) == (["HGETALL", "GET", "EVALSHA"], 2)
    assert result.record is not None
    assert result.record.touched
    assert result.record.meta.accessed == T0 + TOUCH
    # Expired: the load script deletes the record and judges.
    result, sent, trips = counted_load(T0 + TOUCH + IDLE)
    assert (result.status, sent, trips) == (
        LoadStatus.EXPIRED_IDLE,
        ["HGETALL", "GET", "EVALSHA"],
        2,
    )
    assert redis_admin.exists(store.layout.session_key(ref.key)) == 0


def test_a_session_without_a_user_is_one_command(
    counted: tuple[RedisStore, CountingRedis],
) -> None:
    store, client = counted
    ref = Ref()
    assert store.create(ref.create({"a": b"\x011"})).status is CommitStatus.OK
    client.sent.clear()
    client.round_trips = 0
    assert store.load(ref.load(now=T0 + 1)).status is LoadStatus.FOUND
    assert (client.sent, client.round_trips) == (["HGETALL"], 1)


def test_another_type_under_the_key_is_corrupt(
    sync_redis_store: RedisStore, redis_admin: redis.Redis
) -> None:
    ref = Ref()
    redis_admin.set(sync_redis_store.layout.session_key(ref.key), b"x")
    result = sync_redis_store.load(ref.load())
    assert (result.status, result.reason) == (LoadStatus.CORRUPT, "not a hash")


def test_the_tag_memory_is_bounded_and_forgets() -> None:
    tags = TagMemory(size=3)
    for index in range(5):
        tags.remember(f"k{index}", f"t{index}")
    assert [tags.get(f"k{index}") for index in range(5)] == [None, None, "t2", "t3", "t4"]
    tags.remember("k3", None)
    assert tags.get("k3") is None
