"""RedisStore specifics beyond the store contract: TTLs, layout, errors, construction."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio
from redis.exceptions import (
    ClusterDownError,
    MasterDownError,
    MovedError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionary import AsyncSessionManager, ConfigurationError
from sessionary.backends.redis import SESSION_META_FIELDS, parse_session_record
from sessionary.backends.redis._errors import mapped_redis_errors
from sessionary.backends.redis._layout import (
    ENDED_FIELD,
    META_FIELD,
    SEAL_FIELD,
    RedisLayout,
    pack_meta,
    parse_commit_reply,
    parse_hash,
    parse_load_reply,
    unpack_meta,
)
from sessionary.exceptions import StoreError, StoreTimeoutError, StoreUnavailableError
from sessionary.sansio.events import EventName
from sessionary.sansio.ops import CommitStatus, LoadStatus
from sessionary.stores import AsyncRedisStore, RedisStore
from sessionary.testing import CapturingObserver, session_config
from tests.helpers import ABSOLUTE, IDLE, MINUTE, T0, TOUCH, Ref

pytestmark = pytest.mark.anyio

LISTPACK_VALUE = 64  # Redis's default hash-max-listpack-value


async def test_ttl_follows_idle_and_never_passes_the_deadline(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    ref = Ref()
    key = async_redis_store.layout.session_key(ref.key)
    await async_redis_store.create(ref.create())
    assert IDLE - 2000 <= redis_admin.pttl(key) <= IDLE
    # Near the absolute deadline, a touch sets TTL = deadline - now, not a full idle period.
    now = T0 + ABSOLUTE - 5 * MINUTE
    for at in range(T0 + 20 * MINUTE, now, 20 * MINUTE):  # kept alive by touches
        await async_redis_store.load(ref.load(now=at))
    await async_redis_store.load(ref.load(now=now))
    assert 5 * MINUTE - 2000 <= redis_admin.pttl(key) <= 5 * MINUTE


async def test_an_expired_record_lingers_only_for_the_notice(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    ref = Ref()
    key = async_redis_store.layout.session_key(ref.key)
    notice = 10 * MINUTE
    await async_redis_store.create(ref.create(linger=notice))
    assert IDLE + notice - 2000 <= redis_admin.pttl(key) <= IDLE + notice
    await async_redis_store.update(ref.update({"a": b"\x011"}, linger=notice))
    assert IDLE + notice - 2000 <= redis_admin.pttl(key) <= IDLE + notice


async def test_a_key_of_another_type_loads_as_corrupt_and_is_discarded(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis, key_prefix: str
) -> None:
    config = session_config()
    observer = CapturingObserver()
    manager = AsyncSessionManager(async_redis_store, config, observer=observer)
    cycle = await manager.open([])
    cycle.session["a"] = 1
    value = (await manager.commit(cycle)).set_cookie
    assert value is not None
    (name,) = redis_admin.keys(f"{key_prefix}:s:*")
    redis_admin.delete(name)
    redis_admin.set(name, b"not a hash")
    cookie = value.split(";", 1)[0]
    cycle = await manager.open([cookie])
    assert cycle.session.is_new
    assert dict(cycle.session) == {}
    update = await manager.commit(cycle)
    assert update.set_cookie is not None
    assert "Max-Age=0" in update.set_cookie
    (alert,) = observer.of(EventName.CORRUPT_RECORD)
    assert alert.detail["reason"] == "not a hash"
    assert redis_admin.exists(name) == 0


async def test_an_untouched_read_writes_nothing(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    ref = Ref()
    key = async_redis_store.layout.session_key(ref.key)
    await async_redis_store.create(ref.create())
    before = redis_admin.hget(key, META_FIELD)
    await async_redis_store.load(ref.load(now=T0 + TOUCH - 1))
    assert redis_admin.hget(key, META_FIELD) == before


async def test_stored_layout_holds_no_raw_identifiers(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    ref = Ref()
    await async_redis_store.create(ref.create({"cart": b"\x01[1]"}, user="u1", auth_time=T0))
    key = async_redis_store.layout.session_key(ref.key)
    fields: dict[bytes, bytes] = redis_admin.hgetall(key)  # type: ignore[assignment]
    assert set(fields) == {b"cart", b"\xffm", b"\xffu", b"\xffs"}
    meta = unpack_meta(fields[b"\xffm"], "u1", fields[b"\xffs"])
    assert meta is not None
    assert (meta.created, meta.idle, meta.deadline, meta.auth_time) == (T0, IDLE, T0 + ABSOLUTE, T0)
    assert len(fields[b"\xffm"]) == 57
    assert len(meta.seal) == 16
    assert meta.seal == fields[b"\xffs"]
    assert all(len(value) <= LISTPACK_VALUE for value in fields.values())
    assert redis_admin.object("encoding", key) == b"listpack"


async def test_a_format_2_record_loads_keeps_its_format_when_touched_and_updates_to_format_3(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    """Records written before format 3 carried the seal inside a 73-byte header."""
    ref = Ref()
    seal = b"S" * 16
    await async_redis_store.create(ref.create({"cart": b"\x01[1]"}, user="u1", seal=seal))
    key = async_redis_store.layout.session_key(ref.key)
    header = redis_admin.hget(key, META_FIELD)
    assert isinstance(header, bytes)
    legacy = b"\x02" + header[1:] + seal  # what format 2 wrote
    redis_admin.hset(key, META_FIELD, legacy)
    redis_admin.hdel(key, SEAL_FIELD)
    loaded = await async_redis_store.load(ref.load(now=T0 + TOUCH))  # touched
    assert loaded.record is not None
    assert loaded.record.touched
    assert loaded.record.meta.seal == seal
    touched = redis_admin.hget(key, META_FIELD)
    assert touched is not None
    assert len(touched) == 73
    assert touched[0] == 2
    assert touched[-16:] == seal
    new_seal = b"N" * 16
    updated = await async_redis_store.update(ref.update({"a": b"\x011"}, seal=new_seal))
    assert updated.status is CommitStatus.OK
    header = redis_admin.hget(key, META_FIELD)
    assert header is not None
    assert (len(header), header[0]) == (57, 3)
    assert redis_admin.hget(key, SEAL_FIELD) == new_seal
    again = await async_redis_store.load(ref.load(now=T0 + TOUCH))
    assert again.record is not None
    assert again.record.meta.seal == new_seal
    assert again.record.meta.version == 2


async def test_tools_read_keys_and_records_as_the_store_writes_them(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    layout = async_redis_store.layout
    ref = Ref()
    await async_redis_store.create(ref.create({"cart": b"\x01[1]"}, user="u1", auth_time=T0))
    key = layout.session_key(ref.key).encode()
    assert layout.is_session_key(key)
    assert not layout.is_session_key(layout.lock_key(ref.key).encode())
    assert not layout.is_session_key(RedisLayout("other").session_key(ref.key).encode())
    assert layout.is_user_index_key(layout.user_index_key("t1").encode())
    assert not layout.is_user_index_key(layout.user_epoch_key("t1").encode())
    assert not layout.is_user_index_key(key)

    record = parse_session_record(redis_admin.hmget(key, SESSION_META_FIELDS))
    assert record is not None
    assert not record.ended
    assert (record.meta.user, record.meta.created, record.meta.auth_time) == ("u1", T0, T0)
    redis_admin.hset(key, ENDED_FIELD, b"revoked")  # what revoke_session leaves: a tombstone
    record = parse_session_record(redis_admin.hmget(key, SESSION_META_FIELDS))
    assert record is not None
    assert record.ended
    redis_admin.delete(key)
    assert parse_session_record(redis_admin.hmget(key, SESSION_META_FIELDS)) is None
    redis_admin.hset(key, mapping={b"\xffm": b"not a header", b"a": b"1"})
    assert parse_session_record(redis_admin.hmget(key, SESSION_META_FIELDS)) is None


async def test_foreign_hashes_never_load_as_sessions(
    async_redis_store: AsyncRedisStore, redis_admin: redis.Redis
) -> None:
    ref = Ref()
    key = async_redis_store.layout.session_key(ref.key)
    redis_admin.hset(key, mapping={"name": "not a session", "\xffm": "short"})
    assert (await async_redis_store.load(ref.load())).record is None
    redis_admin.set(key, "a string key")
    loaded = await async_redis_store.load(ref.load())  # never a WRONGTYPE error (a 500)
    assert (loaded.status, loaded.reason) == (LoadStatus.CORRUPT, "not a hash")
    updated = await async_redis_store.update(ref.update({"a": b"\x011"}))
    assert updated.status is CommitStatus.GONE
    assert await async_redis_store.destroy(ref.destroy()) is False


async def test_scripts_are_reloaded_after_a_flush(private_redis: str) -> None:
    # On a private server: SCRIPT FLUSH empties the cache of every client of the server, and
    # the tests beside this one that count round trips would pay the reloads.
    store = AsyncRedisStore.from_url(private_redis)
    try:
        ref = Ref()
        await store.create(ref.create())
        await store.client.script_flush()
        assert (await store.load(ref.load())).record is not None
    finally:
        await store.aclose()


async def test_from_url_owns_and_closes_its_client(redis_url: str, key_prefix: str) -> None:
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    await store.warm_up()
    assert repr(store) == f"AsyncRedisStore(prefix={key_prefix!r})"
    await store.aclose()
    injected = redis.asyncio.Redis.from_url(redis_url)
    store = AsyncRedisStore(injected, prefix=key_prefix)
    await store.aclose()  # an injected client is left open
    assert await injected.ping() is True
    await injected.aclose()


def test_sync_store_from_url(redis_url: str, key_prefix: str) -> None:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    store.warm_up()
    ref = Ref()
    store.create(ref.create())
    assert store.destroy(ref.destroy()) is True
    store.close()


def test_decoding_clients_and_bad_prefixes_are_refused(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="decode_responses"):
        RedisStore(redis.Redis.from_url(redis_url, decode_responses=True))
    for prefix in ("", "a b", "x{y}", "p*", "a" * 65):
        with pytest.raises(ConfigurationError, match="prefix"):
            RedisLayout(prefix)


async def test_a_manager_rejects_a_sync_store(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    with pytest.raises(ConfigurationError, match="AsyncSessionStore"):
        AsyncSessionManager(store, session_config())  # type: ignore[arg-type]
    store.close()


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (RedisTimeoutError("slow"), StoreTimeoutError),
        (RedisConnectionError("down"), StoreUnavailableError),
        (OSError("reset"), StoreUnavailableError),
        (ResponseError("NOPERM"), StoreError),
        # A topology in transition (failover, resharding) is unavailability, never a 500.
        (ClusterDownError("CLUSTERDOWN"), StoreUnavailableError),
        (MasterDownError("MASTERDOWN"), StoreUnavailableError),
        (TryAgainError("TRYAGAIN"), StoreUnavailableError),
        (MovedError("3999 127.0.0.1:6381"), StoreUnavailableError),
        (ReadOnlyError("READONLY"), StoreUnavailableError),
        (SlotNotCoveredError("slot 1"), StoreUnavailableError),
        (RedisClusterException("no nodes"), StoreUnavailableError),
    ],
)
async def test_driver_errors_are_mapped(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as info, mapped_redis_errors("probe"):
        raise raised
    assert info.value.__cause__ is raised
    assert "probe" in str(info.value)


def test_reply_parsing_tolerates_garbage() -> None:
    assert parse_load_reply([7]).record is None
    assert parse_hash([b"\xffm", b"\x01" + b"\x00" * 56]) is None  # the oldest format
    assert parse_hash([b"\xffm", b"\x03" + b"\x00" * 72]) is None  # format 3 is 57 bytes
    assert parse_hash([b"\xffm", b"\x02" + b"\x00" * 56]) is None  # format 2 is 73 bytes
    unsealed = parse_hash([b"\xffm", b"\x03" + b"\x00" * 56])  # its \xffs field missing
    assert unsealed is not None
    assert unsealed.meta.seal == b""  # the core finds it unauthenticated
    assert parse_hash([b"a", b"1"]) is None  # no metadata
    assert parse_commit_reply([b"STALE", [b"a", b"1"]]).status is CommitStatus.GONE
    with pytest.raises(ValueError, match="nonce"):
        pack_meta(
            created=1,
            accessed=1,
            idle=1,
            deadline=1,
            digest=b"",
            nonce=b"",
            version=1,
            auth_time=None,
        )


async def test_a_redis_py_connection_race_is_unavailability_not_a_crash() -> None:
    # The failover race: a connection disconnected under a writer has no stream any more.
    connection = redis.asyncio.connection.Connection(host="127.0.0.1", port=1)
    with (
        pytest.raises(StoreUnavailableError, match="mid-command") as info,
        mapped_redis_errors("probe"),
    ):
        await connection._send_packed_command([b"PING\r\n"])
    assert isinstance(info.value.__cause__, AttributeError)


def test_an_attribute_error_of_our_own_is_not_hidden() -> None:
    with pytest.raises(AttributeError), mapped_redis_errors("probe"):
        _ = object().missing  # type: ignore[attr-defined]
