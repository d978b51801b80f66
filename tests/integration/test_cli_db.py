"""``sessionary db init|upgrade|status|purge`` and ``sessions list|revoke`` on SQL stores."""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sessionary import SessionManager
from sessionary.backends.sql import SCHEMA_VERSION, SQLStore, sql_store_from_url
from sessionary.backends.sql._schema import TENANT_TABLES
from sessionary.cli.commands import cli
from sessionary.sansio.ops import Create, LoadStatus
from sessionary.testing import CapturingObserver, session_config
from tests.helpers import Ref
from tests.sql_raw import sync_sql_rows, sync_sql_run
from tests.sql_services import with_params


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sessions.db'}"
    url = request.getfixturevalue("postgres_url")
    return with_params(url, schema=request.getfixturevalue("postgres_schema"))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_init_status_and_upgrade(store_url: str) -> None:
    code, out = run("db", "status", "--store", store_url)
    assert code == 1
    assert "run `sessionary db init --store" in out
    code, out = run("db", "init", "--store", store_url)
    assert (code, out.strip()) == (0, "init: created the sessionary tables at schema version 2")
    code, out = run("db", "init", "--store", store_url)
    assert (code, out.strip()) == (0, "schema already at version 2: nothing to do")
    code, out = run("db", "status", "--store", store_url)
    assert (code, out.strip()) == (0, "schema version 2 (this release: 2): up to date")
    store = sql_store_from_url(store_url)
    ref = Ref()
    try:  # back to version 1: the tables as they were before the events table
        store.create(ref.create({"kept": b"\x011"}))
        sync_sql_run(store, "DROP TABLE sessionary_events")
        sync_sql_run(store, "UPDATE sessionary_schema SET version = ?", (1,))
    finally:
        store.close()
    code, out = run("db", "status", "--store", store_url)
    assert code == 1
    assert "needs `sessionary db upgrade`" in out
    code, out = run("db", "upgrade", "--store", store_url)
    assert (code, out.strip()) == (0, "upgrade: schema upgraded from version 1 to 2")
    store = sql_store_from_url(store_url)
    try:  # the session kept, the events table there
        assert store.load(ref.load()).status is LoadStatus.FOUND
        assert store.count_events() == 0
    finally:
        store.close()


def test_purge_deletes_expired_rows_in_batches(store_url: str) -> None:
    run("db", "init", "--store", store_url)
    store = sql_store_from_url(store_url)
    now = int(time.time() * 1000)
    try:
        for age in [3_600_000] * 25 + [0] * 5:  # 25 sessions that ended an hour ago, 5 live
            store.create(
                Create(
                    key=secrets.token_urlsafe(16),
                    digest=secrets.token_bytes(16),
                    nonce=secrets.token_bytes(8),
                    now=now - age - 60_000,
                    idle=60_000 + (0 if age else 600_000),
                    deadline=now + 3_600_000,
                    attributes={"n": b"\x011"},
                )
            )
        code, out = run("db", "purge", "--store", store_url, "--batch", "10", "--quiet")
        assert (code, out.strip()) == (0, "purged 25 expired rows (batches of 10)")
        assert store.count() == 5
    finally:
        store.close()


def test_db_commands_refuse_a_redis_url() -> None:
    result = CliRunner().invoke(cli, ["db", "status", "--store", "redis://127.0.0.1:1/0"])
    assert result.exit_code == 2
    assert "db commands work on a SQL store" in result.output


def test_init_with_row_security_creates_the_policies_on_postgresql_only(store_url: str) -> None:
    code, out = run("db", "init", "--row-security", "--store", store_url)
    if store_url.startswith("sqlite"):
        assert code == 1
        assert "row-level security needs PostgreSQL" in out
        return
    assert code == 0
    schema = store_url.rsplit("schema=", 1)[1]
    store = sql_store_from_url(store_url)
    try:
        rows = sync_sql_rows(
            store,
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.policyname "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_policies p ON p.schemaname = n.nspname AND p.tablename = c.relname "
            "WHERE n.nspname = ? ORDER BY c.relname",
            (schema,),
        )
    finally:
        store.close()
    assert [row[0] for row in rows] == sorted(TENANT_TABLES)
    assert {row[1:] for row in rows} == {(True, True, "tenant_isolation")}


def test_sessions_list_and_revoke_work_on_a_sql_store(store_url: str) -> None:
    run("db", "init", "--store", store_url)
    store = sql_store_from_url(store_url)
    try:
        manager = SessionManager(store, session_config(), observer=CapturingObserver())
        for agent in ("Laptop", "Phone"):
            cycle = manager.open([], user_agent=agent, client="192.0.2.1")
            cycle.session.login("alice")
            manager.commit(cycle)
        code, out = run("sessions", "list", "--user", "alice", "--json", "--store", store_url)
        assert code == 0
        assert [entry["user_agent"] for entry in json.loads(out)] == ["Laptop", "Phone"]
        code, out = run("sessions", "revoke", "--user", "alice", "--yes", "--store", store_url)
        assert code == 0
        assert "2 session(s) ended" in out
        code, out = run("sessions", "list", "--user", "alice", "--json", "--store", store_url)
        assert json.loads(out) == []
        revoked = [event for _, event in store.user_events("alice")]  # into the audit table
        assert [(e.name.value, e.detail["sessions"]) for e in revoked] == [("revoked", 2)]
    finally:
        store.close()


def signed_in(store: SQLStore, *users: str) -> SessionManager:
    """A manager on ``store`` publishing into its audit table; one login per user given."""
    manager = SessionManager(store, session_config(), observer=CapturingObserver(), events=store)
    for user in users:
        cycle = manager.open([], user_agent="Laptop", client="192.0.2.1")
        cycle.session.login(user)
        manager.commit(cycle)
    return manager


def test_stats_counts_a_sql_stores_rows(store_url: str) -> None:
    run("db", "init", "--store", store_url)
    store = sql_store_from_url(store_url)
    try:
        manager = signed_in(store, "alice", "alice", "bob")
        cycle = manager.open([])
        cycle.session["cart"] = [1]  # an anonymous session with data
        manager.commit(cycle)
    finally:
        store.close()
    code, out = run("stats", store_url, "--json")
    assert code == 0, out
    figures = json.loads(out)
    assert figures["schema_version"] == SCHEMA_VERSION
    assert (figures["live_sessions"], figures["authenticated_sessions"]) == (4, 3)
    assert (figures["users"], figures["rows"], figures["events"]) == (2, 4, 4)
    assert figures["top_users"] == [
        {"user": "alice", "sessions": 2},
        {"user": "bob", "sessions": 1},
    ]
    code, out = run("stats", store_url)
    assert code == 0, out
    assert "live sessions" in out
    assert "audit events" in out


def test_events_tail_reads_a_sql_stores_audit_table(store_url: str) -> None:
    run("db", "init", "--store", store_url)
    store = sql_store_from_url(store_url)
    try:
        signed_in(store, "alice", "bob")
        code, out = run("events", "tail", "--store", store_url, "--last", "5", "--no-follow")
        assert code == 0, out
        assert out.count(" created ") == 2
        assert "user=alice" in out
        assert "user=bob" in out
        later = threading.Timer(0.5, signed_in, args=(store, "carol"))
        later.start()
        code, out = run(
            "events", "tail", "--store", store_url, "--last", "0", "--duration", "20",
            "--limit", "1",
        )  # fmt: skip
        later.join()
        assert code == 0, out
        assert "user=carol" in out
        assert "user=alice" not in out
    finally:
        store.close()


def test_bench_runs_on_a_sql_store_and_leaves_no_row(store_url: str) -> None:
    run("db", "init", "--store", store_url)
    code, out = run(
        "bench", store_url, "-n", "300", "-c", "4", "--sessions", "20", "--json",
    )  # fmt: skip
    assert code == 0, out
    report = json.loads(out[out.index("{") :])
    assert report["operations"] == 300
    assert report["errors"] == {}
    assert report["sql_rows_removed"] > 0
    store = sql_store_from_url(store_url)
    try:  # the run's tenant is gone: not one row of any tenant is left
        assert sync_sql_rows(store, "SELECT COUNT(*) FROM sessionary_sessions") == [(0,)]
        assert sync_sql_rows(store, "SELECT COUNT(*) FROM sessionary_users") == [(0,)]
    finally:
        store.close()


def test_bench_on_a_sql_store_without_tables_names_the_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    code, out = run("bench", url, "-n", "10")
    assert code == 1
    assert "sessionary db init" in out
