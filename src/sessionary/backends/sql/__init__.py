"""The SQL backend: session stores on PostgreSQL and on SQLite.

==========================  ========================  ==========================================
asyncio                     sync                      where sessions live
==========================  ========================  ==========================================
``AsyncPostgresStore``      ``PostgresStore``         PostgreSQL (extra: ``postgres``)
``AsyncSQLiteStore``        ``SQLiteStore``           a SQLite file (standard library only)
==========================  ========================  ==========================================

Both pass the store contract and the user, lock, sweeper and manager suites that the Redis
store passes (docs/sql.md). The tables are versioned (:data:`SCHEMA_VERSION`) and created by
``sessionary db init --store URL``; :func:`sql_store_from_url` and :func:`async_sql_store_from_url`
build a store from ``postgresql://...`` or ``sqlite:///path.db``. Every name is imported on
first use: SQLite needs no extra, PostgreSQL needs psycopg (``pip install 'sessionary[postgres]'``).
"""

from __future__ import annotations

import typing

from sessionary._lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from sessionary.backends.sql._async.postgres import AsyncPostgresStore
    from sessionary.backends.sql._async.sqlite import AsyncSQLiteStore
    from sessionary.backends.sql._async.store import AsyncSQLStore
    from sessionary.backends.sql._factory import async_sql_store_from_url, sql_store_from_url
    from sessionary.backends.sql._rows import SQLCensus
    from sessionary.backends.sql._schema import SCHEMA_VERSION
    from sessionary.backends.sql._sync.postgres import PostgresStore
    from sessionary.backends.sql._sync.sqlite import SQLiteStore
    from sessionary.backends.sql._sync.store import SQLStore
    from sessionary.backends.sql._urls import is_sql_url

__all__ = [
    "SCHEMA_VERSION",
    "AsyncPostgresStore",
    "AsyncSQLStore",
    "AsyncSQLiteStore",
    "PostgresStore",
    "SQLCensus",
    "SQLStore",
    "SQLiteStore",
    "async_sql_store_from_url",
    "is_sql_url",
    "sql_store_from_url",
]

_HOMES = {
    "AsyncPostgresStore": "_async.postgres",
    "PostgresStore": "_sync.postgres",
    "AsyncSQLiteStore": "_async.sqlite",
    "SQLiteStore": "_sync.sqlite",
    "AsyncSQLStore": "_async.store",
    "SQLStore": "_sync.store",
    "SCHEMA_VERSION": "_schema",
    "SQLCensus": "_rows",
    "is_sql_url": "_urls",
    "sql_store_from_url": "_factory",
    "async_sql_store_from_url": "_factory",
}

__getattr__ = _lazy_exports(__name__, {name: f"{__name__}.{home}" for name, home in _HOMES.items()})
