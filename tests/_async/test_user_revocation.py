"""Revocation hooks and the per-user index's bounds (docs/security.md R60, R62, R63).

Runs on every store kind (memory, Redis, Sentinel, Cluster); the generated sync twin runs
the same scenarios.
"""

from __future__ import annotations

from functools import partial

import pytest

from sessionary import AsyncSessionManager, ConfigurationError, RevocationReason
from sessionary.backends.sql import AsyncSQLStore
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import parse_token
from sessionary.sansio.keys import KeyRing
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests._async.test_users import Device, manager_for
from tests.sql_raw import async_sql_rows, async_sql_run

pytestmark = pytest.mark.anyio

IDLE_S = 600
ABSOLUTE_S = 3600


async def index_members(store: AsyncSessionStore, user_key: str) -> set[str] | None:
    """The storage keys in the user's index, or ``None`` when the index does not exist."""
    if isinstance(store, AsyncMemoryStore):
        index = store.engine._index.get(user_key)
        return None if index is None else set(index)
    if isinstance(store, AsyncSQLStore):  # the index is a column of the session rows
        sql = "SELECT key FROM sessionary_sessions WHERE user_key = ? AND indexed_until IS NOT NULL"
        found = {str(row[0]) for row in await async_sql_rows(store, sql, (user_key,))}
        return found or None
    assert isinstance(store, AsyncRedisStore)
    key = store.layout.user_index_key(user_key)
    if not await store.client.exists(key):
        return None
    members = await store.client.zrange(key, 0, -1)
    return {member.decode() for member in members if isinstance(member, bytes)}


async def put_in_index(
    store: AsyncSessionStore, user_key: str, storage_key: str, score: int
) -> None:
    """Write a stale entry into the user's index, as a missed cleanup would leave it."""
    if isinstance(store, AsyncMemoryStore):
        store.engine._index.setdefault(user_key, {})[storage_key] = score
        return
    if isinstance(store, AsyncSQLStore):  # an entry lives in its row: none without the row
        sql = "UPDATE sessionary_sessions SET indexed_until = ?, user_key = ? WHERE key = ?"
        await async_sql_run(store, sql, (score, user_key, storage_key))
        return
    assert isinstance(store, AsyncRedisStore)
    await store.client.zadd(store.layout.user_index_key(user_key), {storage_key: score})


def storage_key_of(device: Device) -> str:
    assert device.cookie is not None
    token = parse_token(device.cookie)
    assert token is not None
    return device.manager.core.keyring.storage_key(token.selector)


async def test_revocation_hooks_end_sessions_and_name_their_reason(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    """R60: account disable/delete, factor change and admin action each have a hook."""
    observer = CapturingObserver()
    manager = manager_for(async_store, clock, observer)
    here, there = Device(manager), Device(manager, ua="Phone/1.0")
    await here.login("alice")
    await there.login("alice")
    bob = Device(manager)
    await bob.login("bob")
    clock.advance(1)

    # A password change made from ``here``: every other device ends, ``here`` stays.
    current = await here.request()
    assert await manager.credentials_changed("alice", keep_current=current) == 1
    assert await here.whoami() == "alice"
    ended = await there.request()
    assert (ended.user_id, ended.end_reason) == (None, "revoked")

    clock.advance(1)
    await there.login("alice")
    clock.advance(1)
    assert await manager.admin_revoke("alice") == 2  # an administrator keeps nothing
    assert [await here.whoami(), await there.whoami()] == [None, None]

    clock.advance(1)
    await here.login("alice")
    clock.advance(1)
    assert await manager.account_disabled("alice") == 1
    assert await here.whoami() is None
    assert await manager.list_user_sessions("alice") == []

    clock.advance(1)
    assert await manager.revoke_user("alice") == 0
    assert await bob.whoami() == "bob"  # other users are untouched throughout
    revoked = observer.of(EventName.REVOKED)
    reasons = [e.detail["reason"] for e in revoked if e.detail.get("scope") == "user"]
    assert reasons == [
        RevocationReason.CREDENTIALS_CHANGED.value,
        RevocationReason.ADMIN.value,
        RevocationReason.ACCOUNT_DISABLED.value,
        RevocationReason.LOGOUT_EVERYWHERE.value,
    ]
    with pytest.raises(ValueError, match="not a valid"):
        await manager.revoke_user("alice", reason="bored")  # type: ignore[arg-type]


async def test_the_user_index_outlives_its_sessions_only_until_they_end(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    """R62: the index TTL covers its longest-lived session, no more; then the index is gone."""
    manager = manager_for(async_store, clock, idle_timeout=3000, absolute_timeout=ABSOLUTE_S)
    user_key = KeyRing.user_key("alice")
    first, second = Device(manager), Device(manager)
    await first.login("alice")
    clock.advance(1000)
    await second.login("alice")
    assert await index_members(async_store, user_key) == {
        storage_key_of(first),
        storage_key_of(second),
    }
    if isinstance(async_store, AsyncRedisStore):
        ttl = await async_store.client.pttl(async_store.layout.user_index_key(user_key))
        # At least the newest session's remaining absolute lifetime, at most one lifetime.
        assert (ABSOLUTE_S - 30) * 1000 <= ttl <= ABSOLUTE_S * 1000

    await first.request(lambda s: s.logout())
    assert await index_members(async_store, user_key) == {storage_key_of(second)}
    clock.advance(ABSOLUTE_S)  # the second session is past its absolute deadline
    assert await manager.list_user_sessions("alice") == []
    assert await index_members(async_store, user_key) is None  # the index key itself is gone


async def test_the_index_never_brings_a_session_back(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    """R63: a stale index entry (a missed cleanup) never revives an ended session."""
    manager = manager_for(async_store, clock, idle_timeout=IDLE_S, absolute_timeout=ABSOLUTE_S)
    user_key = KeyRing.user_key("alice")
    device, keeper = Device(manager), Device(manager)
    await device.login("alice")
    await keeper.login("alice")
    clock.advance(1)
    before_rotation = device.cookie
    await device.request(lambda s: s.rotate())
    assert device.cookie != before_rotation
    assert len(await manager.list_user_sessions("alice")) == 2  # rotation keeps one entry
    dead_cookie = device.cookie
    dead_key = storage_key_of(device)
    await device.request(lambda s: s.logout())
    assert await index_members(async_store, user_key) == {storage_key_of(keeper)}

    deadline_ms = int((clock() + ABSOLUTE_S) * 1000)
    await put_in_index(async_store, user_key, dead_key, deadline_ms)
    listed = await manager.list_user_sessions("alice")
    assert len(listed) == 1  # the stale entry is not listed ...
    assert await index_members(async_store, user_key) == {storage_key_of(keeper)}  # ... pruned
    device.cookie = dead_cookie
    assert await device.whoami() is None  # and the old cookie stays dead
    assert await keeper.whoami() == "alice"


async def test_with_tenants_a_user_operation_must_name_its_tenant(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = AsyncSessionManager(async_store, session_config(clock=clock))
    manager.scope_by_tenant()  # what an adapter configured with tenants= does
    operations = (
        partial(manager.revoke_user, "alice"),
        partial(manager.list_user_sessions, "alice"),
        partial(manager.revoke_session, "alice", "ref"),
    )
    for operation in operations:
        with pytest.raises(ConfigurationError, match="tenant="):
            await operation()
    assert await manager.revoke_user("alice", tenant="acme") == 0
    assert await manager.list_user_sessions("alice", tenant="") == []  # named, even if empty
