"""What the SQL stores add to the shared suites: schema versions, sharing, sweeping, purging.

The store contract, user, lock, manager and integrity suites run on both SQL stores through
``STORE_KINDS`` (tests/conftest.py); here is what only a SQL store has. Each test opens the
database through a store URL, as an application would: a SQLite file in the test's directory,
or a schema of its own in the run's PostgreSQL database.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from sessionary import MemoryEventLog, SessionManager, Sweeper
from sessionary.backends.sql import (
    SCHEMA_VERSION,
    AsyncPostgresStore,
    PostgresStore,
    SQLiteStore,
    SQLStore,
    sql_store_from_url,
)
from sessionary.backends.sql._async.postgres_driver import AsyncPostgresTx
from sessionary.exceptions import ConfigurationError, StoreTimeoutError, StoreUnavailableError
from sessionary.sansio.events import EventName
from sessionary.sansio.ops import Create, LoadStatus
from sessionary.stores.base import Capability
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests._sync.test_manager import Client
from tests.helpers import HOUR, IDLE, MINUTE, T0, TOUCH, Ref
from tests.sql_raw import sync_sql_rows, sync_sql_run
from tests.sql_services import with_params

SQL_KINDS = ["sqlite", "postgres"]
Opener = Callable[[], SQLStore]


@pytest.fixture(params=SQL_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL of a database no other test uses (tables not created yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sessions.db'}"
    url = request.getfixturevalue("postgres_url")
    return with_params(url, schema=request.getfixturevalue("postgres_schema"))


@pytest.fixture
def open_store(store_url: str) -> Iterator[Opener]:
    """Opens stores on the test's database (its tables created); closes them afterwards."""
    opened: list[SQLStore] = []

    def opener() -> SQLStore:
        store = sql_store_from_url(store_url)
        store.init_schema()
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


def test_a_store_refuses_a_database_without_its_tables(store_url: str) -> None:
    store = sql_store_from_url(store_url)
    try:
        with pytest.raises(ConfigurationError, match=r"run `sessionary db init --store "):
            store.load(Ref().load())
        assert store.init_schema() is None  # there were no tables
        assert store.load(Ref().load()).status is LoadStatus.MISSING
    finally:
        store.close()


def test_a_store_refuses_a_schema_newer_than_it_knows(open_store: Opener, store_url: str) -> None:
    sync_sql_run(open_store(), "UPDATE sessionary_schema SET version = ?", (99,))
    store = sql_store_from_url(store_url)
    try:
        with pytest.raises(ConfigurationError, match="newer than this release"):
            store.load(Ref().load())
        with pytest.raises(ConfigurationError, match="newer than this release"):
            store.init_schema()  # never downgrades
    finally:
        store.close()


def test_concurrent_schema_creation_is_serialised(store_url: str) -> None:
    """Eight instances starting at once all create the tables, none fails (advisory lock)."""
    stores = [sql_store_from_url(store_url) for _ in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def start(store: SQLStore) -> None:
        barrier.wait()
        try:
            store.init_schema()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert {store.schema_version() for store in stores} == {SCHEMA_VERSION}
    finally:
        for store in stores:
            store.close()


def test_two_instances_share_sessions_and_they_survive_a_restart(open_store: Opener) -> None:
    """Two stores on one database (two worker processes): a session written through one is
    read through the other, and after both close a new one still finds it."""
    first, second = open_store(), open_store()
    ref = Ref()
    first.create(ref.create({"cart": b"\x01[1]"}))
    loaded = second.load(ref.load(now=T0 + 1))
    assert loaded.record is not None
    assert dict(loaded.record.attributes) == {"cart": b"\x01[1]"}
    first.close()
    second.close()
    again = open_store().load(ref.load(now=T0 + 2))
    assert again.status is LoadStatus.FOUND


def dump(store: SQLStore) -> bytes:
    """Every value of every sessionary table, as bytes (what a stolen backup holds)."""
    out = []
    for table in ("sessionary_sessions", "sessionary_users", "sessionary_locks"):
        for row in sync_sql_rows(store, f"SELECT * FROM {table}"):
            for value in row:
                out.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\x00".join(out)


def test_rows_hold_no_raw_session_id(open_store: Opener) -> None:
    """R5 on SQL: neither the cookie's ID nor any part of it is in any row."""
    store = open_store()
    manager = SessionManager(store, session_config(), observer=CapturingObserver())
    browser = Client(manager)
    browser.request(lambda s: s.login("alice"))
    browser.request(lambda s: s.update(cart=[1]))
    assert browser.cookie is not None
    raw = dump(store)
    assert b"cart" in raw  # the dump does read the rows
    for part in {browser.cookie, *browser.cookie.replace("-", ".").split(".")}:
        if len(part) >= 8:
            assert part.encode() not in raw


def test_hostile_values_are_parameters_not_sql(open_store: Opener) -> None:
    """R47: quotes, comment markers and statement separators in every field are data."""
    store = open_store()
    hostile = "x'); DROP TABLE sessionary_sessions; --"
    ref = Ref(key=hostile)
    store.create(ref.create({hostile: hostile.encode()}, user=hostile))
    loaded = store.load(ref.load())
    assert loaded.record is not None
    assert dict(loaded.record.attributes) == {hostile: hostile.encode()}
    assert loaded.record.meta.user == hostile
    assert store.count() == 1


@pytest.mark.anyio
async def test_a_postgres_read_is_one_statement_even_when_it_touches(
    postgres_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AsyncPostgresStore(postgres_url, schema=postgres_schema)
    await store.init_schema()
    ref = Ref()
    await store.create(ref.create())
    sent: list[str] = []
    rows, run = AsyncPostgresTx.rows, AsyncPostgresTx.run

    async def counted_rows(self: AsyncPostgresTx, sql: str, params: object = ()) -> object:
        sent.append(sql)
        return await rows(self, sql, params)  # type: ignore[arg-type]

    async def counted_run(self: AsyncPostgresTx, sql: str, params: object = ()) -> object:
        sent.append(sql)
        return await run(self, sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(AsyncPostgresTx, "rows", counted_rows)
    monkeypatch.setattr(AsyncPostgresTx, "run", counted_run)
    transactions = 0
    opened = psycopg.AsyncConnection.transaction

    def counted_transaction(self: psycopg.AsyncConnection[object], *a: object) -> object:
        nonlocal transactions
        transactions += 1
        return opened(self, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.AsyncConnection, "transaction", counted_transaction)
    try:
        touched = await store.load(ref.load(now=T0 + TOUCH))
        quiet = await store.load(ref.load(now=T0 + TOUCH + 1))
        assert touched.record is not None
        assert touched.record.touched
        assert quiet.record is not None
        assert not quiet.record.touched
        assert (len(sent), transactions) == (2, 0)  # one statement per read, no BEGIN/COMMIT
        expired = await store.load(ref.load(now=T0 + TOUCH + IDLE))  # at its idle end
        assert expired.status is LoadStatus.EXPIRED_IDLE
        assert (await store.load(ref.load(now=T0 + TOUCH + HOUR))).status is LoadStatus.MISSING
    finally:
        await store.aclose()


EXPIRING, ALIVE = 300, 60
SWEEP_AT = T0 + 30 * MINUTE


def populate(store: SQLStore) -> None:
    """150 idle-expiring, 150 absolute-expiring and 60 live sessions, at T0."""
    plans = (
        [(10 * MINUTE, T0 + 12 * HOUR)] * (EXPIRING // 2)
        + [(HOUR, T0 + 20 * MINUTE)] * (EXPIRING // 2)
        + [(2 * HOUR, T0 + 12 * HOUR)] * ALIVE
    )
    for index, (idle, deadline) in enumerate(plans):
        store.create(
            Create(
                key=secrets.token_urlsafe(16),
                digest=secrets.token_bytes(16),
                nonce=secrets.token_bytes(8),
                now=T0,
                idle=idle,
                deadline=deadline,
                attributes={"n": b"\x011"},
                user=f"user-{index % 7}",
                seal=secrets.token_bytes(16),
                linger=HOUR,
            )
        )


def sweeper_for(store: SQLStore, log: MemoryEventLog) -> Sweeper:
    manager = SessionManager(
        store,
        session_config(
            clock=FakeClock(SWEEP_AT / 1000), idle_timeout=2 * 3600, absolute_timeout=12 * 3600
        ),
        observer=CapturingObserver(),
        events=log,
    )
    return Sweeper(manager, batch=50)


def test_three_concurrent_sweepers_report_each_expiry_exactly_once(open_store: Opener) -> None:
    """R37: sweepers on three stores (three workers) race; every expiry is reported once."""
    populate(open_store())
    logs = [MemoryEventLog(maxlen=10_000) for _ in range(3)]
    sweepers = [sweeper_for(open_store(), log) for log in logs]
    barrier = threading.Barrier(3)

    def sweep(sweeper: Sweeper) -> None:
        barrier.wait()
        while sweeper.sweep_once():
            pass

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    events = [event for log in logs for _, event in log.read("0", count=10_000)]
    assert len(events) == EXPIRING
    assert max(Counter(event.detail["ref"] for event in events).values()) == 1
    assert Counter(event.name for event in events) == {
        EventName.EXPIRED_IDLE: EXPIRING // 2,
        EventName.EXPIRED_ABSOLUTE: EXPIRING // 2,
    }
    assert sweepers[0].sweep_once() == 0


def test_purge_deletes_only_rows_whose_time_is_over_in_batches(open_store: Opener) -> None:
    """R37: ``purge_expired`` deletes expired rows a bounded batch at a time, never a live one."""
    store = open_store()
    populate(store)
    after_linger = T0 + 90 * MINUTE  # the expiring rows are past their lingering hour
    assert store.count_purgeable(after_linger) == EXPIRING
    batches = []
    while (done := store.purge_expired(after_linger, 100)) > 0:
        batches.append(done)
    assert batches == [100, 100, 100]
    assert store.count() == ALIVE


def test_postgresql_declares_its_clock_and_sqlite_does_not(open_store: Opener) -> None:
    """R38: the database's clock is the one authority on PostgreSQL (the app nodes' may differ)."""
    store = open_store()
    if isinstance(store, PostgresStore):
        assert Capability.CLOCK in store.capabilities
        assert abs(store.server_time() - time.time() * 1000) < 60_000
    else:
        assert Capability.CLOCK not in store.capabilities


def test_driver_errors_become_store_errors(tmp_path: Path) -> None:
    """A SQLite file another process holds, or a PostgreSQL that does not answer: typed errors."""
    path = tmp_path / "locked.db"
    setup = SQLiteStore(str(path))
    setup.init_schema()
    setup.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write, never finished
    store = SQLiteStore(str(path), busy_timeout_s=0.1)
    try:
        with pytest.raises(StoreTimeoutError, match="locked"):
            store.create(Ref().create())
    finally:
        store.close()
        holder.close()
    nobody = PostgresStore("postgresql://postgres@127.0.0.1:1/db?connect_timeout=1", timeout_s=1)
    try:
        with pytest.raises(StoreUnavailableError):
            nobody.load(Ref().load())
    finally:
        nobody.close()
