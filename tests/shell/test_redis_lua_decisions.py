"""Decisions of the Redis Lua scripts that the store contract does not reach.

Each test here was written against a mutant of a script that the contract suite let survive
(``scripts/mutate_lua.py``, docs/testing.md): it fails when that decision is changed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis

from sessionary.backends.redis._layout import META_FIELD, META_SIZE
from sessionary.backends.redis._sweep import SETTLE_SCRIPT
from sessionary.backends.redis._users import REVOKE_SCRIPT
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import CommitStatus, LoadStatus, UserBinding
from sessionary.stores import AsyncRedisStore
from tests.helpers import ABSOLUTE, IDLE, MINUTE, T0, Ref

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda meta: meta + b"x", id="one-byte-long"),
        pytest.param(lambda meta: meta[:-1], id="one-byte-short"),
        pytest.param(lambda meta: b"\x04" + meta[1:], id="unknown-format"),
        pytest.param(lambda meta: b"\x02" + meta[1:], id="format-2-byte-at-format-3-length"),
        pytest.param(lambda meta: meta + b"s" * 16, id="format-3-byte-at-format-2-length"),
    ],
)
async def test_metadata_of_another_length_or_format_is_no_session(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis, corrupt: object
) -> None:
    """Every script refuses a header of the wrong size *or* the wrong format byte, each on
    its own (not only when both are wrong): the record is not a session."""
    assert callable(corrupt)
    ref = Ref()
    key = async_redis_store.layout.session_key(ref.key)
    assert (await async_redis_store.create(ref.create({"a": b"\x011"}))).status is CommitStatus.OK
    meta = redis_admin.hget(key, META_FIELD)
    assert isinstance(meta, bytes)
    assert len(meta) == META_SIZE
    redis_admin.hset(key, META_FIELD, corrupt(meta))
    assert (await async_redis_store.load(ref.load())).status is LoadStatus.MISSING
    result = await async_redis_store.update(ref.update({"a": b"\x012"}))
    assert result.status is CommitStatus.GONE
    assert await async_redis_store.destroy(ref.destroy()) is False
    assert redis_admin.hget(key, "a") == b"\x011"  # nothing was written


async def test_an_update_never_sets_a_ttl_past_the_absolute_deadline(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    """The update script's TTL is ``min(accessed + idle, deadline) - now`` (R36), as the
    load's: 10 minutes before the deadline a write leaves 10 minutes, not a full idle period."""
    ref = Ref()
    key = async_redis_store.layout.session_key(ref.key)
    deadline = T0 + 10 * MINUTE
    await async_redis_store.create(ref.create({"a": b"\x011"}, deadline=deadline))
    assert (await async_redis_store.update(ref.update({"a": b"\x012"}))).status is CommitStatus.OK
    assert 10 * MINUTE - 2000 <= redis_admin.pttl(key) <= 10 * MINUTE


async def test_ending_a_session_needs_its_own_user_and_happens_once(
    async_redis_store: AsyncRedisStore,
) -> None:
    """``end_session`` (revoking one device) ends only a session of the user named, and says
    so only the first time: another user's key, or an already ended session, gives False."""
    ref = Ref()
    owner, other = KeyRing.user_key("ada"), KeyRing.user_key("bob")
    binding = UserBinding(user_key=owner, stamp=T0, deadline=T0 + ABSOLUTE)
    create = replace(ref.create({"a": b"\x011"}, user="ada"), binding=binding)
    assert (await async_redis_store.create(create)).status is CommitStatus.OK
    assert await async_redis_store.end_session(other, ref.key, "revoked") is False
    assert (await async_redis_store.load(ref.load())).status is LoadStatus.FOUND
    assert await async_redis_store.end_session(owner, ref.key, "revoked") is True
    assert await async_redis_store.end_session(owner, ref.key, "revoked") is False
    ended = await async_redis_store.load(ref.load())
    assert (ended.status, ended.reason) == (LoadStatus.ENDED, "revoked")


async def test_the_user_epoch_expires_after_the_horizon_unless_it_was_kept_forever(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    """``revoke_user``'s epoch lives as long as a session stamped before it could (until
    ``sessions_end_by``), grows to a later horizon and is never shortened; an epoch the
    script was told to keep forever (no horizon) stays so."""
    user = KeyRing.user_key(f"epoch-{Ref().key}")
    epoch = async_redis_store.layout.user_epoch_key(user)
    await async_redis_store.revoke_user(user, T0, sessions_end_by=T0 + 10 * MINUTE)
    assert 10 * MINUTE - 2000 <= redis_admin.pttl(epoch) <= 10 * MINUTE
    await async_redis_store.revoke_user(user, T0, sessions_end_by=T0 + 20 * MINUTE)  # longer
    assert 20 * MINUTE - 2000 <= redis_admin.pttl(epoch) <= 20 * MINUTE
    await async_redis_store.revoke_user(user, T0, sessions_end_by=T0 + 10 * MINUTE)
    assert 20 * MINUTE - 3000 <= redis_admin.pttl(epoch) <= 20 * MINUTE  # not shortened
    index = async_redis_store.layout.user_index_key(user)
    redis_admin.eval(REVOKE_SCRIPT.source, 2, index, epoch, T0, "", "")  # no horizon
    assert redis_admin.pttl(epoch) == -1
    await async_redis_store.revoke_user(user, T0, sessions_end_by=T0 + 10 * MINUTE)
    assert redis_admin.pttl(epoch) == -1  # not shortened back to a horizon
    assert redis_admin.get(epoch) == str(T0).encode()


async def test_a_due_entry_is_claimed_by_one_sweeper_only(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    """The claim answers "yours" to exactly one caller per expired entry: the second
    sweeper that read the same entry before the first removed it gets "not yours" (no
    second ``expired`` event). Racing processes hit this only rarely; here it is forced
    (through the Cluster path's settle script, which claims as the standalone sweep does)."""
    layout = async_redis_store.layout
    due, info = layout.due_key(0), layout.due_info_key(0)
    member = Ref().key
    redis_admin.zadd(due, {member: T0})
    redis_admin.hset(info, member, f"{T0}|ada")
    source = SETTLE_SCRIPT.source
    first = redis_admin.eval(source, 2, due, info, member, "")
    second = redis_admin.eval(source, 2, due, info, member, "")
    assert first == [f"{T0}|ada".encode()]
    assert second == [None]


async def test_a_swept_session_becomes_a_tombstone_without_its_values(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """The sweeper empties an expired record at once (its values are not kept until its TTL)
    into a tombstone saying why it ended."""
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix, track_expiry=True)
    try:
        ref = Ref()
        key = store.layout.session_key(ref.key)
        assert (await store.create(ref.create({"a": b"\x011"}))).status is CommitStatus.OK
        later = T0 + IDLE + MINUTE
        (swept,) = await store.sweep(later, IDLE)
        assert swept.status is LoadStatus.EXPIRED_IDLE
        assert redis_admin.hget(key, "a") is None  # the value is gone now, not at the TTL
        ended = await store.load(ref.load(now=later))
        assert (ended.status, ended.reason) == (LoadStatus.ENDED, "expired_idle")
    finally:
        await store.aclose()
