"""A SQL store that is its own event sink writes a request's events in the change's transaction.

``AsyncSessionManager(store, config, events=store)`` on a SQL store (capability
``EVENTS_IN_TRANSACTION``): a login, a rotation, a logout and the sessions a login evicts are
written to ``sessionary_events`` by the transaction that makes the change, so the change and
its events commit together or not at all. Proven in the database: the rows of one request
share its PostgreSQL transaction ID (``xmin``); an event insert the database refuses, or a
commit it refuses, leaves neither the change nor the event. Sync twin generated.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sessionary._async.events import AsyncMemoryEventLog
from sessionary._async.manager import AsyncSessionManager
from sessionary._async.sweeper import AsyncSweeper
from sessionary.backends.sql import AsyncPostgresStore, AsyncSQLiteStore, AsyncSQLStore
from sessionary.exceptions import StoreError
from sessionary.sansio.events import EventName
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests.sql_raw import async_sql_rows, async_sql_run

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
async def async_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncSQLStore]:
    """A SQL store on a database of this test's own, its tables created."""
    store: AsyncSQLStore
    if request.param == "sqlite":
        store = AsyncSQLiteStore(str(tmp_path / "sessions.db"))
    else:
        url = request.getfixturevalue("postgres_url")
        store = AsyncPostgresStore(url, schema=request.getfixturevalue("postgres_schema"))
    await store.init_schema()
    yield store
    await store.aclose()


_REFUSE_EVENTS = {
    "sqlite": [
        "CREATE TRIGGER sqltx_refuse BEFORE INSERT ON sessionary_events"
        " BEGIN SELECT RAISE(ABORT, 'the audit table refuses'); END"
    ],
    "postgres": [
        "CREATE FUNCTION sqltx_refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $f$ BEGIN RAISE EXCEPTION 'the audit table refuses'; END $f$",
        "CREATE TRIGGER sqltx_refuse BEFORE INSERT ON sessionary_events"
        " FOR EACH ROW EXECUTE FUNCTION sqltx_refuse()",
    ],
}

_ALLOW_EVENTS = {
    "sqlite": ["DROP TRIGGER sqltx_refuse"],
    "postgres": ["DROP TRIGGER sqltx_refuse ON sessionary_events", "DROP FUNCTION sqltx_refuse()"],
}


def _kind(store: AsyncSQLStore) -> str:
    return "postgres" if store._driver.dialect.writable_ctes else "sqlite"


def _manager(store: Any, observer: CapturingObserver, **config: Any) -> AsyncSessionManager:
    return AsyncSessionManager(store, session_config(**config), observer=observer, events=store)


def _cookie(set_cookie: str | None) -> list[str]:
    assert set_cookie is not None
    return [set_cookie.split(";", 1)[0]]


async def _events(store: AsyncSQLStore) -> list[tuple[str, str | None]]:
    rows = await async_sql_rows(store, "SELECT event, user_id FROM sessionary_events ORDER BY at")
    return [(str(name), None if user is None else str(user)) for name, user in rows]


async def _sessions(store: AsyncSQLStore) -> int:
    return int((await async_sql_rows(store, "SELECT count(*) FROM sessionary_sessions"))[0][0])


async def test_each_event_is_written_once_and_the_observer_sees_them_all(
    async_store: AsyncSQLStore,
) -> None:
    observer = CapturingObserver()
    manager = _manager(async_store, observer)
    cycle = await manager.open([])
    cycle.session.login("dave")
    cookie = _cookie((await manager.commit(cycle)).set_cookie)
    cycle = await manager.open(cookie)
    cycle.session.rotate()
    cookie = _cookie((await manager.commit(cycle)).set_cookie)
    forged = f"{manager.config.cookie.name}=forged"
    cycle = await manager.open([forged])  # no change: published after the request
    await manager.commit(cycle)
    cycle = await manager.open(cookie)
    cycle.session.logout()
    await manager.commit(cycle)
    names = [EventName.CREATED, EventName.ROTATED, EventName.INVALID_ID, EventName.DESTROYED]
    assert observer.names() == names
    users = ["dave", "dave", None, "dave"]
    assert sorted(await _events(async_store), key=str) == sorted(
        ((name.value, user) for name, user in zip(names, users, strict=True)), key=str
    )


async def test_a_refused_event_insert_rolls_the_change_back(async_store: AsyncSQLStore) -> None:
    observer = CapturingObserver()
    manager = _manager(async_store, observer)
    cycle = await manager.open([])
    cycle.session.login("erin")
    cookie = _cookie((await manager.commit(cycle)).set_cookie)
    for statement in _REFUSE_EVENTS[_kind(async_store)]:
        await async_sql_run(async_store, statement)

    cycle = await manager.open(cookie)
    cycle.session.logout()
    with pytest.raises(StoreError):
        await manager.commit(cycle)
    assert await _sessions(async_store) == 1  # the logout did not happen: its event failed
    cycle = await manager.open([])
    cycle.session.login("frank")
    with pytest.raises(StoreError):
        await manager.commit(cycle)
    assert await _sessions(async_store) == 1  # nor the login
    assert await _events(async_store) == [("created", "erin")]
    cycle = await manager.open(cookie)
    assert cycle.session.user_id == "erin"  # the first session still signs erin in


async def test_a_login_and_the_sessions_it_evicts_are_one_transaction(
    async_store: AsyncSQLStore,
) -> None:
    manager = _manager(
        async_store, CapturingObserver(), max_sessions_per_user=1, session_limit="evict_oldest"
    )
    for _ in range(2):
        cycle = await manager.open([])
        cycle.session.login("gina")
        await manager.commit(cycle)
    rows = sorted(await _events(async_store))
    assert rows == [("created", "gina"), ("created", "gina"), ("evicted", "gina")]
    if _kind(async_store) == "postgres":
        xmin = await async_sql_rows(
            async_store,
            "SELECT xmin::text FROM sessionary_events WHERE event = 'evicted'"
            " UNION SELECT xmin::text FROM sessionary_events WHERE event = 'created'"
            " AND at = (SELECT max(at) FROM sessionary_events)"
            " UNION SELECT xmin::text FROM sessionary_sessions WHERE ended IS NULL",
        )
        assert len(xmin) == 1  # the live session, its creation and the eviction: one commit


@pytest.mark.store_kinds("postgres")  # xmin is PostgreSQL's
async def test_the_change_and_its_event_share_one_postgresql_transaction(
    async_store: AsyncSQLStore,
) -> None:
    manager = _manager(async_store, CapturingObserver())
    cycle = await manager.open([])
    cycle.session.login("hana")
    cookie = _cookie((await manager.commit(cycle)).set_cookie)
    created = await async_sql_rows(
        async_store,
        "SELECT xmin::text FROM sessionary_sessions UNION SELECT xmin::text FROM sessionary_events",
    )
    assert len(created) == 1
    cycle = await manager.open(cookie)
    cycle.session.rotate()
    await manager.commit(cycle)
    rotated = await async_sql_rows(
        async_store,
        "SELECT xmin::text FROM sessionary_sessions"
        " UNION SELECT xmin::text FROM sessionary_events WHERE event = 'rotated'",
    )
    assert len(rotated) == 1
    assert rotated != created


@pytest.mark.store_kinds("postgres")  # a constraint checked at COMMIT (a deferred trigger)
async def test_a_commit_the_database_refuses_leaves_no_event_row(
    async_store: AsyncSQLStore,
) -> None:
    for statement in (
        "CREATE FUNCTION sqltx_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS"
        " $f$ BEGIN RAISE EXCEPTION 'refused at commit'; END $f$",
        "CREATE CONSTRAINT TRIGGER sqltx_refuse_commit AFTER INSERT ON sessionary_sessions"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sqltx_refuse_commit()",
    ):
        await async_sql_run(async_store, statement)
    manager = _manager(async_store, CapturingObserver())
    cycle = await manager.open([])
    cycle.session.login("ivan")
    with pytest.raises(StoreError):
        await manager.commit(cycle)  # the event was inserted, then the COMMIT failed
    assert await _sessions(async_store) == 0
    assert await _events(async_store) == []


async def test_another_sink_gets_every_event_and_the_store_writes_none(
    async_store: AsyncSQLStore,
) -> None:
    log = AsyncMemoryEventLog()
    manager = AsyncSessionManager(async_store, session_config(), events=log)
    cycle = await manager.open([])
    cycle.session.login("jane")
    await manager.commit(cycle)
    assert [event.name for _, event in await log.read()] == [EventName.CREATED]
    assert await _events(async_store) == []


async def test_a_revocation_and_its_event_are_one_transaction(async_store: AsyncSQLStore) -> None:
    observer = CapturingObserver()
    manager = _manager(async_store, observer)
    cookies = []
    for _ in range(3):
        cycle = await manager.open([])
        cycle.session.login("kim")
        cookies.append(_cookie((await manager.commit(cycle)).set_cookie))
    (first, *_) = await manager.list_user_sessions("kim")
    assert await manager.revoke_session("kim", first.ref)
    for statement in _REFUSE_EVENTS[_kind(async_store)]:
        await async_sql_run(async_store, statement)
    with pytest.raises(StoreError):
        await manager.revoke_user("kim")  # its event refused: the revocation did not happen
    assert len(await manager.list_user_sessions("kim")) == 2
    for statement in _ALLOW_EVENTS[_kind(async_store)]:
        await async_sql_run(async_store, statement)
    assert await manager.revoke_user("kim") == 2
    revoked = [e.detail for e in observer.events if e.name is EventName.REVOKED]
    assert [d["scope"] for d in revoked] == ["session", "user"]
    assert revoked[1]["sessions"] == 2
    rows = await async_sql_rows(
        async_store, "SELECT detail FROM sessionary_events WHERE event = 'revoked' ORDER BY at"
    )
    assert sorted(json.loads(str(detail))["scope"] for (detail,) in rows) == ["session", "user"]
    assert [e.name for _, e in await async_store.user_events("kim")].count(EventName.REVOKED) == 2
    cycle = await manager.open(cookies[2])
    assert cycle.session.user_id is None  # signed out everywhere


async def test_a_sweep_and_its_expiry_events_are_one_transaction(
    async_store: AsyncSQLStore,
) -> None:
    clock = FakeClock(1_750_000_000)
    observer = CapturingObserver()
    manager = _manager(async_store, observer, clock=clock, idle_timeout=60)
    cycle = await manager.open([])
    cycle.session.login("lea")
    await manager.commit(cycle)
    clock.advance(120)
    sweeper = AsyncSweeper(manager)
    for statement in _REFUSE_EVENTS[_kind(async_store)]:
        await async_sql_run(async_store, statement)
    with pytest.raises(StoreError):
        await sweeper.sweep_once()  # its events refused: nothing was swept
    for statement in _ALLOW_EVENTS[_kind(async_store)]:
        await async_sql_run(async_store, statement)
    assert await sweeper.sweep_once() == 1
    assert await sweeper.sweep_once() == 0
    assert sorted(await _events(async_store)) == [("created", "lea"), ("expired_idle", "lea")]
    assert observer.names() == [EventName.CREATED, EventName.EXPIRED_IDLE]
