"""Tenants isolated by PostgreSQL itself: row-level security, proven in the database.

The tables are created by their owner with ``init_schema(row_security=True)``; the
application connects as a role of its own that is neither their owner nor a superuser (a
superuser bypasses every policy). Hand-written SQL on that role's connections shows what the
policies allow, whatever the library does: a connection scoped to tenant A sees none of
tenant B's rows in any sessionary table, a connection with no tenant sees no row at all, and
a ``DELETE`` for A leaves B's rows alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from sessionary import SessionManager
from sessionary.backends.sql import PostgresStore
from sessionary.backends.sql._schema import TENANT_TABLES
from sessionary.cli.commands import cli
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.ops import LoadStatus, UserBinding
from sessionary.testing import CapturingObserver, session_config
from tests.helpers import T0, Ref
from tests.sql_services import with_params

TENANTS = ("tenant-a", "tenant-b")


def _as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""  # none: a socket directory in the query (host=...)
    netloc = f"{role}@{host}:{parts.port}" if parts.port else f"{role}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.fixture
def app_url(postgres_url: str, postgres_schema: str) -> Iterator[str]:
    """The application's URL: a login role with table privileges only, on the RLS tables."""
    owner = PostgresStore(postgres_url, schema=postgres_schema)
    owner.init_schema(row_security=True)
    owner.close()
    role = f"sessionary_app_{uuid.uuid4().hex[:10]}"
    ident, schema = sql.Identifier(role), sql.Identifier(postgres_schema)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(ident))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident))
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
                schema, ident
            )
        )
    try:
        yield _as_role(postgres_url, role)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))


def store_for(app_url: str, schema: str, tenant: str) -> PostgresStore:
    return PostgresStore(app_url, schema=schema, tenant=tenant)


def populate(app_url: str, schema: str) -> dict[str, Ref]:
    """One signed-in session, an epoch, a lock, a cookie floor and an event per tenant."""
    refs = {}
    for tenant in TENANTS:
        store = store_for(app_url, schema, tenant)
        try:
            ref = Ref()
            op = ref.create({"tenant": tenant.encode()}, user="u1")
            op.binding = UserBinding(user_key=f"user-of-{tenant}", stamp=T0, deadline=T0 + 1)
            assert store.create(op).status.value == "ok"
            store.revoke_user("someone", T0, sessions_end_by=T0 + 10**9)
            assert store.acquire_lock(ref.key, b"token", 60_000, ref.digest) is True
            store.publish([SessionEvent(EventName.CREATED, T0, "fp", "u1")])
            refs[tenant] = ref
        finally:
            store.close()
    return refs


def tenant_rows(app_url: str, schema: str, tenant: str | None) -> dict[str, list[str]]:
    """The ``tenant`` column of every row of every table, as a hand-written query sees it."""
    seen: dict[str, list[str]] = {}
    with psycopg.connect(app_url, options=f"-c search_path={schema}") as conn:
        with conn.transaction():
            if tenant is not None:
                conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant,))
            for table in TENANT_TABLES:
                query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))
                cursor = conn.execute(query)
                names = [column.name for column in cursor.description or ()]
                seen[table] = [row[names.index("tenant")] for row in cursor.fetchall()]
        # A later transaction on the same connection, with no tenant set: nothing at all.
        with conn.transaction():
            for table in TENANT_TABLES:
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                row = conn.execute(query).fetchone()
                assert row == (0,), f"{table} shows rows after the tenant's transaction"
    return seen


def test_a_tenant_connection_sees_only_its_rows_and_none_without_a_tenant(
    app_url: str, postgres_url: str, postgres_schema: str
) -> None:
    populate(app_url, postgres_schema)
    untenanted = PostgresStore(postgres_url, schema=postgres_schema)  # the owner: no policy
    try:
        untenanted.create(Ref().create())  # a row of the empty tenant: shown to nobody
    finally:
        untenanted.close()
    for tenant in TENANTS:
        seen = tenant_rows(app_url, postgres_schema, tenant)
        assert seen["sessionary_sessions"] == [tenant]
        assert set(seen["sessionary_users"]) == {tenant}
        assert seen["sessionary_locks"] == [tenant]
        assert seen["sessionary_events"] == [tenant]
        assert all(set(rows) <= {tenant} for rows in seen.values())
    nothing = tenant_rows(app_url, postgres_schema, None)
    assert nothing == {table: [] for table in TENANT_TABLES}  # never every row


def test_a_delete_for_one_tenant_cannot_touch_another(app_url: str, postgres_schema: str) -> None:
    refs = populate(app_url, postgres_schema)
    with psycopg.connect(app_url, options=f"-c search_path={postgres_schema}") as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('app.current_tenant', %s, true)", ("tenant-a",))
            deleted = conn.execute("DELETE FROM sessionary_sessions").rowcount
            moved = conn.execute("UPDATE sessionary_sessions SET tenant = 'tenant-a'").rowcount
        assert (deleted, moved) == (1, 0)

        def write_for_b_as_a() -> None:
            with conn.transaction():
                conn.execute("SELECT set_config('app.current_tenant', %s, true)", ("tenant-a",))
                conn.execute(
                    "INSERT INTO sessionary_locks (tenant, key, token, until) "
                    "VALUES ('tenant-b', 'k', 'x', 0)"
                )

        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the policy's WITH CHECK
            write_for_b_as_a()
    for tenant, expected in (("tenant-a", LoadStatus.MISSING), ("tenant-b", LoadStatus.FOUND)):
        store = store_for(app_url, postgres_schema, tenant)
        try:
            assert store.load(refs[tenant].load()).status is expected
        finally:
            store.close()


def test_a_store_reads_and_writes_only_through_its_tenant(
    app_url: str, postgres_schema: str
) -> None:
    refs = populate(app_url, postgres_schema)
    a = store_for(app_url, postgres_schema, "tenant-a")
    b = store_for(app_url, postgres_schema, "tenant-b")
    try:
        loaded = a.load(refs["tenant-a"].load(now=T0 + 1))
        assert loaded.record is not None
        assert dict(loaded.record.attributes) == {"tenant": b"tenant-a"}
        assert a.load(refs["tenant-b"].load()).status is LoadStatus.MISSING
        assert a.update(refs["tenant-a"].update({"n": b"\x011"}, now=T0 + 2)).status.value == "ok"
        assert a.destroy(refs["tenant-b"].destroy()) is False  # B's session, from A
        assert b.load(refs["tenant-b"].load()).status is LoadStatus.FOUND
    finally:
        a.close()
        b.close()


def test_a_tenant_read_is_one_pipeline_with_no_begin_or_commit(
    app_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tenant is set for the statement's own implicit transaction, sent with it."""
    refs = populate(app_url, postgres_schema)
    store = store_for(app_url, postgres_schema, "tenant-a")
    counts = {"transaction": 0, "pipeline": 0, "sync": 0}
    transaction, pipeline = psycopg.Connection.transaction, psycopg.Connection.pipeline
    sync = psycopg.Pipeline.sync

    def counted(name: str, method: Any) -> Any:
        def call(self: object, *args: object, **kwargs: object) -> object:
            counts[name] += 1
            return method(self, *args, **kwargs)

        return call

    monkeypatch.setattr(psycopg.Connection, "transaction", counted("transaction", transaction))
    monkeypatch.setattr(psycopg.Connection, "pipeline", counted("pipeline", pipeline))
    monkeypatch.setattr(psycopg.Pipeline, "sync", counted("sync", sync))
    try:
        store.load(refs["tenant-a"].load(now=T0 + 1))  # the schema check, once per store
        counts.update(transaction=0, pipeline=0, sync=0)
        loaded = store.load(refs["tenant-a"].load(now=T0 + 2))
        assert loaded.record is not None
        assert dict(loaded.record.attributes) == {"tenant": b"tenant-a"}
        assert store.load(refs["tenant-b"].load(now=T0 + 3)).status is LoadStatus.MISSING
        # Two reads: each one pipeline (set_config and the read, synced once by the fetch).
        assert counts == {"transaction": 0, "pipeline": 2, "sync": 0}
    finally:
        store.close()


def test_sessions_list_and_revoke_name_the_tenant_under_row_security(
    app_url: str, postgres_schema: str
) -> None:
    """``sessionary sessions --tenant T`` opens the store scoped to T; without it, a refusal."""
    for tenant in TENANTS:
        store = store_for(app_url, postgres_schema, tenant)
        try:
            manager = SessionManager(store, session_config(), observer=CapturingObserver())
            for agent in ("Laptop", "Phone") if tenant == "tenant-a" else ("Tablet",):
                cycle = manager.open([], user_agent=agent, tenant=tenant)
                cycle.session.login("alice")
                manager.commit(cycle)
        finally:
            store.close()
    url = with_params(app_url, schema=postgres_schema)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["sessions", *args, "--user", "alice", "--store", url])
        return result.exit_code, result.output

    code, out = run("list")
    assert code == 2
    assert "row-level security" in out
    assert "--tenant" in out
    code, out = run("list", "--tenant", "tenant-a", "--json")
    assert code == 0
    assert [entry["user_agent"] for entry in json.loads(out)] == ["Laptop", "Phone"]
    code, out = run("revoke", "--tenant", "tenant-a", "--yes")
    assert code == 0
    assert "2 session(s) ended" in out
    assert json.loads(run("list", "--tenant", "tenant-a", "--json")[1]) == []
    (left,) = json.loads(run("list", "--tenant", "tenant-b", "--json")[1])
    assert left["user_agent"] == "Tablet"  # the other tenant's session is untouched
    revoked = store_for(app_url, postgres_schema, "tenant-a")
    try:
        events = [event for _, event in revoked.user_events("alice")]
        assert [(e.name.value, e.detail["sessions"]) for e in events] == [("revoked", 2)]
    finally:
        revoked.close()
