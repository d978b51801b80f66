"""The store contract: every store, sync and async, must pass every test here.

Runs on each store kind (``async_store`` is parametrized over memory, standalone Redis, Redis
through Sentinel and Redis Cluster) and, through ``scripts/unasync.py``, on their sync twins.
Scenarios are written against the operations of
:mod:`sessionary.sansio.ops`, so a new store only has to plug into the fixture.
"""

from __future__ import annotations

import secrets

import pytest

from sessionary.sansio.ops import CommitStatus, LoadStatus
from sessionary.stores.base import AsyncSessionStore
from tests.helpers import ABSOLUTE, HOUR, IDLE, MINUTE, T0, TOUCH, Ref

pytestmark = pytest.mark.anyio


async def test_load_of_an_unknown_key_is_missing(async_store: AsyncSessionStore) -> None:
    result = await async_store.load(Ref().load())
    assert result.status is LoadStatus.MISSING
    assert result.record is None


async def test_create_then_load_returns_attributes_and_metadata(
    async_store: AsyncSessionStore,
) -> None:
    ref = Ref()
    created = await async_store.create(
        ref.create({"cart": b"\x01[1,2]", "name": b'\x01"x"'}, user="u1", auth_time=T0 - 5)
    )
    assert created.status is CommitStatus.OK

    result = await async_store.load(ref.load(now=T0 + 1))
    assert result.status is LoadStatus.FOUND
    assert result.record is not None
    assert dict(result.record.attributes) == {"cart": b"\x01[1,2]", "name": b'\x01"x"'}
    meta = result.record.meta
    assert (meta.created, meta.accessed, meta.idle) == (T0, T0, IDLE)
    assert meta.deadline == T0 + ABSOLUTE
    assert meta.digest == ref.digest
    assert (meta.user, meta.auth_time, meta.version) == ("u1", T0 - 5, 1)
    assert result.record.touched is False


async def test_anonymous_record_has_no_user(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011"}))
    result = await async_store.load(ref.load())
    assert result.record is not None
    assert result.record.meta.user is None
    assert result.record.meta.auth_time is None


async def test_wrong_validator_is_invalid_and_touches_nothing(
    async_store: AsyncSessionStore,
) -> None:
    ref = Ref()
    await async_store.create(ref.create())
    later = T0 + TOUCH + 1
    result = await async_store.load(ref.load(now=later, digest=secrets.token_bytes(16)))
    assert result.status is LoadStatus.INVALID
    assert result.record is None
    found = await async_store.load(ref.load(now=later))
    assert found.record is not None
    assert found.record.touched is True  # the invalid attempt did not touch it first


async def test_create_is_idempotent_per_nonce_and_refuses_a_taken_key(
    async_store: AsyncSessionStore,
) -> None:
    ref = Ref()
    nonce = secrets.token_bytes(8)
    assert (await async_store.create(ref.create(nonce=nonce))).status is CommitStatus.OK
    assert (await async_store.create(ref.create(nonce=nonce))).status is CommitStatus.OK
    again = await async_store.create(ref.create({"evil": b"\x011"}))
    assert again.status is CommitStatus.EXISTS
    result = await async_store.load(ref.load())
    assert result.record is not None
    assert dict(result.record.attributes) == {}


async def test_touch_happens_only_when_due(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create())
    early = await async_store.load(ref.load(now=T0 + TOUCH - 1))
    assert early.record is not None
    assert early.record.touched is False
    assert early.record.meta.accessed == T0

    due = await async_store.load(ref.load(now=T0 + TOUCH))
    assert due.record is not None
    assert due.record.touched is True
    assert due.record.meta.accessed == T0 + TOUCH

    again = await async_store.load(ref.load(now=T0 + TOUCH + 1))
    assert again.record is not None
    assert again.record.meta.accessed == T0 + TOUCH


async def test_idle_expiry_deletes_the_record(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create())
    alive = await async_store.load(ref.load(now=T0 + IDLE - 1, touch_after=IDLE))
    assert alive.status is LoadStatus.FOUND
    expired = await async_store.load(ref.load(now=T0 + IDLE))
    assert expired.status is LoadStatus.EXPIRED_IDLE
    gone = await async_store.load(ref.load(now=T0 + 1))
    assert gone.status is LoadStatus.MISSING


async def test_touches_extend_idle_but_never_the_absolute_deadline(
    async_store: AsyncSessionStore,
) -> None:
    ref = Ref()
    await async_store.create(ref.create())
    now = T0
    while now + 20 * MINUTE < T0 + ABSOLUTE:
        now += 20 * MINUTE
        result = await async_store.load(ref.load(now=now))
        assert result.status is LoadStatus.FOUND, now - T0
    final = await async_store.load(ref.load(now=T0 + ABSOLUTE))
    assert final.status is LoadStatus.EXPIRED_ABSOLUTE
    assert (await async_store.load(ref.load(now=T0))).status is LoadStatus.MISSING


async def test_configured_idle_cap_applies_to_existing_records(
    async_store: AsyncSessionStore,
) -> None:
    ref = Ref()
    await async_store.create(ref.create(idle=IDLE))
    result = await async_store.load(ref.load(now=T0 + 10 * MINUTE, max_idle=10 * MINUTE))
    assert result.status is LoadStatus.EXPIRED_IDLE


async def test_configured_idle_cap_applies_to_updates_too(async_store: AsyncSessionStore) -> None:
    """An update judges expiry by ``min(record idle, max_idle)``, like a load: a record idle
    past the configured cap is gone, not revived by the write."""
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011"}, idle=IDLE))
    result = await async_store.update(
        ref.update({"a": b"\x012"}, now=T0 + 10 * MINUTE, max_idle=10 * MINUTE)
    )
    assert result.status is CommitStatus.GONE
    assert (await async_store.load(ref.load(now=T0 + 1))).status is LoadStatus.MISSING


async def test_an_update_at_the_absolute_deadline_is_gone(async_store: AsyncSessionStore) -> None:
    """To the millisecond: 1 ms before the deadline the write lands, at it the session is over."""
    ref, late = Ref(), Ref()
    deadline = T0 + 10 * MINUTE  # the idle timeout (30 min) is far away
    for r in (ref, late):
        await async_store.create(r.create({"a": b"\x011"}, deadline=deadline))
    before = await async_store.update(ref.update({"a": b"\x012"}, now=deadline - 1))
    assert before.status is CommitStatus.OK
    at = await async_store.update(late.update({"a": b"\x012"}, now=deadline))
    assert at.status is CommitStatus.GONE


async def test_update_writes_deletes_and_bumps_version(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011", "b": b"\x012"}))
    seal = secrets.token_bytes(16)
    result = await async_store.update(
        ref.update({"c": b"\x013", "a": b"\x019"}, delete=("b",), seal=seal)
    )
    assert result.status is CommitStatus.OK
    loaded = await async_store.load(ref.load())
    assert loaded.record is not None
    assert dict(loaded.record.attributes) == {"a": b"\x019", "c": b"\x013"}
    assert loaded.record.meta.version == 2
    assert loaded.record.meta.seal == seal  # the record's MAC is kept as given


async def test_the_record_mac_is_kept_as_created(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    seal = secrets.token_bytes(16)
    await async_store.create(ref.create({"a": b"\x011"}, seal=seal))
    loaded = await async_store.load(ref.load(now=T0 + TOUCH))  # a touch keeps it too
    assert loaded.record is not None
    assert loaded.record.touched is True
    assert loaded.record.meta.seal == seal


async def test_update_never_recreates_a_destroyed_session(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011"}))
    assert await async_store.destroy(ref.destroy()) is True
    result = await async_store.update(ref.update({"a": b"\x012"}))
    assert result.status is CommitStatus.GONE
    assert (await async_store.load(ref.load())).status is LoadStatus.MISSING


async def test_update_of_an_unknown_key_is_gone(async_store: AsyncSessionStore) -> None:
    result = await async_store.update(Ref().update({"a": b"\x011"}))
    assert result.status is CommitStatus.GONE


async def test_update_after_expiry_is_gone_and_deletes(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011"}))
    result = await async_store.update(ref.update({"a": b"\x012"}, now=T0 + IDLE))
    assert result.status is CommitStatus.GONE
    assert (await async_store.load(ref.load(now=T0 + 1))).status is LoadStatus.MISSING


async def test_an_update_at_another_version_is_stale_and_returns_the_record(
    async_store: AsyncSessionStore,
) -> None:
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011"}))
    first_seal = secrets.token_bytes(16)
    assert (await async_store.update(ref.update({"b": b"\x012"}, seal=first_seal))).status is (
        CommitStatus.OK
    )
    late = await async_store.update(
        ref.update({"a": b"\x019"}, delete=("b",), expect_version=1, new_digest=b"\x00" * 16)
    )
    assert late.status is CommitStatus.STALE
    current = late.current
    assert current is not None
    assert dict(current.attributes) == {"a": b"\x011", "b": b"\x012"}
    assert (current.meta.version, current.meta.seal, current.meta.digest) == (
        2,
        first_seal,
        ref.digest,
    )
    loaded = await async_store.load(ref.load())  # nothing of the stale write was applied
    assert loaded.record is not None
    assert dict(loaded.record.attributes) == {"a": b"\x011", "b": b"\x012"}
    assert loaded.record.meta.version == 2


async def test_a_rotation_makes_older_writers_stale(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011"}))
    new_digest = secrets.token_bytes(16)
    await async_store.update(ref.update(new_digest=new_digest, user="alice", auth_time=T0))
    late = await async_store.update(ref.update({"x": b"\x011"}, expect_version=1))
    assert late.status is CommitStatus.STALE
    assert late.current is not None
    assert late.current.meta.digest == new_digest
    assert late.current.meta.user == "alice"


async def test_rotation_replaces_the_validator_atomically(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011"}))
    new_digest = secrets.token_bytes(16)
    result = await async_store.update(ref.update(new_digest=new_digest, user="alice", auth_time=T0))
    assert result.status is CommitStatus.OK
    old = await async_store.load(ref.load())
    assert old.status is LoadStatus.INVALID
    new = await async_store.load(ref.load(digest=new_digest))
    assert new.record is not None
    assert dict(new.record.attributes) == {"a": b"\x011"}
    assert (new.record.meta.user, new.record.meta.auth_time) == ("alice", T0)
    assert await async_store.destroy(ref.destroy()) is False  # old digest cannot destroy it


async def test_update_is_idempotent_per_nonce(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create({"n": b"\x011"}))
    op = ref.update({"n": b"\x012"})
    assert (await async_store.update(op)).status is CommitStatus.OK
    retried = await async_store.update(op)  # e.g. a retry after a lost reply
    assert retried.status is CommitStatus.OK
    loaded = await async_store.load(ref.load())
    assert loaded.record is not None
    assert loaded.record.meta.version == 2


async def test_a_slower_request_never_moves_access_time_back(
    async_store: AsyncSessionStore,
) -> None:
    ref = Ref()
    await async_store.create(ref.create())
    await async_store.update(ref.update({"a": b"\x011"}, now=T0 + 10 * MINUTE))
    slower = await async_store.update(ref.update({"b": b"\x011"}, now=T0 + 5 * MINUTE))
    assert slower.status is CommitStatus.OK
    loaded = await async_store.load(ref.load(now=T0 + 11 * MINUTE))
    assert loaded.record is not None
    assert loaded.record.meta.accessed == T0 + 10 * MINUTE
    alive = await async_store.load(ref.load(now=T0 + 10 * MINUTE + IDLE - 1, touch_after=IDLE))
    assert alive.status is LoadStatus.FOUND


async def test_reauthentication_can_extend_the_deadline(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create())
    await async_store.update(ref.update(user="u", auth_time=T0, deadline=T0 + 2 * ABSOLUTE))
    now = T0
    while now < T0 + ABSOLUTE + HOUR:
        now += 20 * MINUTE
        assert (await async_store.load(ref.load(now=now))).status is LoadStatus.FOUND
    loaded = await async_store.load(ref.load(now=now))
    assert loaded.record is not None
    assert loaded.record.meta.deadline == T0 + 2 * ABSOLUTE


async def test_destroy_needs_the_current_digest(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create())
    assert await async_store.destroy(ref.destroy(secrets.token_bytes(16))) is False
    assert (await async_store.load(ref.load())).status is LoadStatus.FOUND
    assert await async_store.destroy(ref.destroy()) is True
    assert await async_store.destroy(ref.destroy()) is False
    assert (await async_store.load(ref.load())).status is LoadStatus.MISSING


async def test_names_and_values_are_binary_safe(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    attributes = {
        "ünïcödé 🔑": b'\x01"v"',
        "a:b:c": b"\x00\xff\x00binary",
        "_v": b"\x011",
        "": b"\x01null",
        "{tag}*?[]": b"\x011",
    }
    await async_store.create(ref.create(attributes))
    loaded = await async_store.load(ref.load())
    assert loaded.record is not None
    assert dict(loaded.record.attributes) == attributes
    assert loaded.record.meta.version == 1  # an attribute named "_v" is not metadata


async def test_thousands_of_fields_in_one_write(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    many = {f"k{i}": b"\x01%d" % i for i in range(3000)}
    await async_store.create(ref.create(many))
    result = await async_store.update(
        ref.update({f"n{i}": b"\x011" for i in range(3000)}, delete=tuple(many)[:2500])
    )
    assert result.status is CommitStatus.OK
    loaded = await async_store.load(ref.load())
    assert loaded.record is not None
    assert len(loaded.record.attributes) == 3500


async def test_discard_deletes_whatever_is_stored(async_store: AsyncSessionStore) -> None:
    ref = Ref()
    await async_store.create(ref.create({"a": b"\x011"}))
    assert await async_store.discard(ref.discard()) is True
    assert (await async_store.load(ref.load())).status is LoadStatus.MISSING
    assert await async_store.discard(ref.discard()) is False


async def test_an_expired_record_lingers_to_say_why_it_ended(
    async_store: AsyncSessionStore,
) -> None:
    idle = Ref()
    await async_store.create(idle.create(linger=HOUR))
    # Long after the idle timeout, within the lingering hour: expired, not unknown.
    late = await async_store.load(idle.load(now=T0 + IDLE + 40 * MINUTE, linger=HOUR))
    assert late.status is LoadStatus.EXPIRED_IDLE
    assert (await async_store.load(idle.load(now=T0 + IDLE + 41 * MINUTE))).status is (
        LoadStatus.MISSING
    )
    absolute = Ref()
    await async_store.create(absolute.create(idle=ABSOLUTE, linger=HOUR))
    ended = await async_store.load(absolute.load(now=T0 + ABSOLUTE + 30 * MINUTE))
    assert ended.status is LoadStatus.EXPIRED_ABSOLUTE
