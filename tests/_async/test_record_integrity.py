"""Stored data is input too: records changed behind sessionary's back, on every store kind.

Whoever can write to the store (an ``HSET`` in Redis, a restored backup) must not be able to
change what a session means. Each test creates a real session through the manager, changes
its stored record directly (as an attacker or a bug would), and checks what the next request
gets: an anonymous session, a cleared cookie, a ``corrupt_record`` alert naming the reason,
and the record gone from the store. With and without encryption at rest.
"""

from __future__ import annotations

from typing import cast

import pytest

from sessionary import AsyncSessionManager, SessionConfig
from sessionary.backends.redis._layout import SEAL_FIELD, parse_hash
from sessionary.backends.sql import AsyncSQLStore
from sessionary.backends.sql._rows import (
    SESSION_COLUMNS,
    SessionRow,
    decode_attributes,
    encode_attributes,
)
from sessionary.codecs import get_codec
from sessionary.sansio.events import EventName
from sessionary.sansio.server_record import ServerRecord
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import CapturingObserver, session_config
from tests._async.test_manager import Client
from tests.sql_raw import async_sql_rows, async_sql_run

pytestmark = pytest.mark.anyio

JSON = get_codec("json")
USER_FIELD = b"\xffu"


class RawRecords:
    """Direct access to a store's records, below the store API (the attacker's view)."""

    def __init__(self, store: AsyncSessionStore) -> None:
        self.store = store

    async def keys(self) -> list[str]:
        store = self.store
        if isinstance(store, AsyncMemoryStore):
            return list(store.engine._records)
        if isinstance(store, AsyncSQLStore):
            rows = await async_sql_rows(store, "SELECT key FROM sessionary_sessions ORDER BY key")
            return [str(row[0]) for row in rows]
        assert isinstance(store, AsyncRedisStore)
        pattern = store.layout.session_pattern()
        names = [bytes(k).decode() async for k in store.client.scan_iter(match=pattern)]
        return sorted(n.split("{", 1)[1].split("}", 1)[0] for n in names if ":lk" not in n)

    async def attributes(self, key: str) -> dict[str, bytes]:
        store = self.store
        if isinstance(store, AsyncMemoryStore):
            return dict(store.engine._records[key].attributes)
        if isinstance(store, AsyncSQLStore):
            sql = "SELECT attributes FROM sessionary_sessions WHERE key = ?"
            (row,) = await async_sql_rows(store, sql, (key,))
            return decode_attributes(bytes(row[0]))
        assert isinstance(store, AsyncRedisStore)
        raw = cast("dict[bytes, bytes]", await store.client.hgetall(store.layout.session_key(key)))
        return {k.decode(): v for k, v in raw.items() if k[:1] != b"\xff"}

    async def set_attribute(self, key: str, name: str, value: bytes) -> None:
        store = self.store
        if isinstance(store, AsyncMemoryStore):
            record = store.engine._records[key]
            record.attributes = {**record.attributes, name: value}
            record.meta = None
            return
        if isinstance(store, AsyncSQLStore):
            await self._write_attributes(key, {**await self.attributes(key), name: value})
            return
        assert isinstance(store, AsyncRedisStore)
        await store.client.hset(store.layout.session_key(key), name.encode(), value)

    async def delete_attribute(self, key: str, name: str) -> None:
        store = self.store
        if isinstance(store, AsyncMemoryStore):
            record = store.engine._records[key]
            record.attributes = {k: v for k, v in record.attributes.items() if k != name}
            record.meta = None
            return
        if isinstance(store, AsyncSQLStore):
            fields = await self.attributes(key)
            await self._write_attributes(key, {k: v for k, v in fields.items() if k != name})
            return
        assert isinstance(store, AsyncRedisStore)
        await store.client.hdel(store.layout.session_key(key), name.encode())

    async def set_user(self, key: str, user: str) -> None:
        store = self.store
        if isinstance(store, AsyncMemoryStore):
            record = store.engine._records[key]
            record.user = user
            record.meta = None
            return
        if isinstance(store, AsyncSQLStore):
            sql = "UPDATE sessionary_sessions SET user_id = ? WHERE key = ?"
            await async_sql_run(store, sql, (user, key))
            return
        assert isinstance(store, AsyncRedisStore)
        await store.client.hset(store.layout.session_key(key), USER_FIELD, user.encode())

    async def _write_attributes(self, key: str, fields: dict[str, bytes]) -> None:
        assert isinstance(self.store, AsyncSQLStore)
        sql = "UPDATE sessionary_sessions SET attributes = ? WHERE key = ?"
        await async_sql_run(self.store, sql, (encode_attributes(fields), key))

    async def reseal_attribute(
        self, key: str, name: str, value: bytes, sealer: ServerRecord
    ) -> None:
        """Put ``value`` under ``name`` *with* a correct record MAC: a record the core could
        have written itself (a bug, a value from an older version), not a forgery."""
        store = self.store
        if isinstance(store, AsyncMemoryStore):
            record = store.engine._records[key]
            record.attributes = {**record.attributes, name: value}
            meta = record.snapshot(touched=False).meta
            record.seal = sealer.seal_of(meta, record.attributes)
            record.meta = None
            return
        if isinstance(store, AsyncSQLStore):
            sql = f"SELECT {SESSION_COLUMNS} FROM sessionary_sessions WHERE key = ?"
            (row,) = await async_sql_rows(store, sql, (key,))
            stored_row = SessionRow(row).stored(touched=False)
            merged = {**stored_row.attributes, name: value}
            seal = sealer.seal_of(stored_row.meta, merged)
            sql = "UPDATE sessionary_sessions SET attributes = ?, seal = ? WHERE key = ?"
            await async_sql_run(store, sql, (encode_attributes(merged), seal, key))
            return
        assert isinstance(store, AsyncRedisStore)
        redis_key = store.layout.session_key(key)
        raw = cast("dict[bytes, bytes]", await store.client.hgetall(redis_key))
        stored = parse_hash([part for pair in raw.items() for part in pair])
        assert stored is not None
        attributes = {**stored.attributes, name: value}
        seal = sealer.seal_of(stored.meta, attributes)  # in its own field (_layout.py)
        fields = {name.encode(): value, SEAL_FIELD: seal}
        await store.client.hset(redis_key, mapping=fields)  # type: ignore[arg-type]


async def signed_in(
    store: AsyncSessionStore, config: SessionConfig, **data: object
) -> tuple[Client, CapturingObserver, str]:
    observer = CapturingObserver()
    browser = Client(AsyncSessionManager(store, config, observer=observer))
    before = set(await RawRecords(store).keys())
    await browser.request(lambda s: s.login("alice"))
    await browser.request(lambda s: s.update(data))
    (key,) = set(await RawRecords(store).keys()) - before
    observer.clear()
    return browser, observer, key


async def assert_refused_as_corrupt(
    browser: Client, observer: CapturingObserver, store: AsyncSessionStore, reason: str
) -> None:
    seen: dict[str, object] = {}
    cycle = await browser.manager.open([f"{browser.manager.config.cookie.name}={browser.cookie}"])
    session = cycle.session
    seen.update(session)
    assert (session.is_new, session.user_id, seen) == (True, None, {})
    update = await browser.manager.commit(cycle)
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    (alert,) = observer.of(EventName.CORRUPT_RECORD)
    assert alert.detail["reason"] == reason
    assert await RawRecords(store).keys() == []  # deleted: never served, never kept


@pytest.fixture(params=[False, True], ids=["plain", "encrypted"])
def integrity_config(request: pytest.FixtureRequest) -> SessionConfig:
    return session_config(encrypt_at_rest=request.param)


async def test_a_user_changed_in_the_store_is_refused(
    async_store: AsyncSessionStore, integrity_config: SessionConfig
) -> None:
    browser, observer, key = await signed_in(async_store, integrity_config, role="user")
    await RawRecords(async_store).set_user(key, "admin")
    await assert_refused_as_corrupt(browser, observer, async_store, "unauthenticated record")


async def test_a_value_changed_in_the_store_is_refused(
    async_store: AsyncSessionStore, integrity_config: SessionConfig
) -> None:
    browser, observer, key = await signed_in(async_store, integrity_config, credits=1)
    await RawRecords(async_store).set_attribute(key, "credits", JSON.encode(1_000_000))
    await assert_refused_as_corrupt(browser, observer, async_store, "unauthenticated record")


async def test_a_field_deleted_in_the_store_is_refused(
    async_store: AsyncSessionStore, integrity_config: SessionConfig
) -> None:
    browser, observer, key = await signed_in(async_store, integrity_config, mfa_pending=True)
    await RawRecords(async_store).delete_attribute(key, "mfa_pending")
    await assert_refused_as_corrupt(browser, observer, async_store, "unauthenticated record")


async def test_an_older_value_put_back_is_refused(
    async_store: AsyncSessionStore, integrity_config: SessionConfig
) -> None:
    raw = RawRecords(async_store)
    browser, observer, key = await signed_in(async_store, integrity_config, status="user")
    older = (await raw.attributes(key))["status"]
    await browser.request(lambda s: s.__setitem__("status", "suspended"))
    observer.clear()
    await raw.set_attribute(key, "status", older)
    await assert_refused_as_corrupt(browser, observer, async_store, "unauthenticated record")


async def test_a_value_copied_from_another_session_is_refused(
    async_store: AsyncSessionStore, integrity_config: SessionConfig
) -> None:
    raw = RawRecords(async_store)
    admin = Client(AsyncSessionManager(async_store, integrity_config))
    await admin.request(lambda s: s.update(role="admin"))
    (admin_key,) = await raw.keys()
    role = (await raw.attributes(admin_key))["role"]
    browser, observer, key = await signed_in(async_store, integrity_config, role="guest")
    await raw.set_attribute(key, "role", role)
    seen: dict[str, object] = {}
    await browser.request(seen.update)
    assert seen == {}
    assert observer.of(EventName.CORRUPT_RECORD)
    assert await raw.keys() == [admin_key]


async def test_an_untouched_record_still_loads(
    async_store: AsyncSessionStore, integrity_config: SessionConfig
) -> None:
    browser, observer, _ = await signed_in(async_store, integrity_config, role="user")
    assert await browser.request() == {"role": "user"}
    assert observer.of(EventName.CORRUPT_RECORD) == []


@pytest.mark.parametrize(
    "value",
    [b"\x01NaN", b'\x01{"truncated": [1, 2', b"\x7funknown envelope", b""],
    ids=["nan", "truncated", "envelope", "empty"],
)
async def test_an_undecodable_value_makes_the_whole_record_corrupt(
    async_store: AsyncSessionStore, value: bytes
) -> None:
    """An authentic record (its MAC is right) with a value that does not decode: the signed-in
    session is not kept with a field missing; the record is refused whole and deleted."""
    config = session_config()
    browser, observer, key = await signed_in(async_store, config, cart=[1])
    sealer = ServerRecord(browser.manager.core, key=key)  # the core's own MAC of the record
    await RawRecords(async_store).reseal_attribute(key, "bad", value, sealer)
    await assert_refused_as_corrupt(browser, observer, async_store, "undecodable value")
