"""The PostgreSQL driver of the SQL store: psycopg 3 with its connection pool.

 Each operation is one transaction on a pooled
connection; statements are parameterised and psycopg prepares the ones a connection sends
often. The database's deadlock and serialisation aborts are retried by the store
(:class:`~sessionary.backends.sql._retry.Retry`); every other driver error is mapped
to sessionary's store errors here.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor, Pipeline
from psycopg.errors import DeadlockDetected, SerializationFailure
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sessionary.backends.sql._dialect import POSTGRES, Dialect
from sessionary.backends.sql._retry import Retry
from sessionary.backends.sql._schema import TENANT_SETTING
from sessionary.exceptions import StoreError, StoreTimeoutError, StoreUnavailableError

__all__ = ["AsyncPostgresDriver", "AsyncPostgresTx"]

Row = tuple[Any, ...]
_SET_TENANT = "SELECT set_config(%s, %s, true)"
_PIPELINES = Pipeline.is_supported()
"""libpq's pipeline mode (libpq 14 and later; psycopg's binary wheels bundle one)."""


class AsyncPostgresTx:
    """A transaction on one pooled connection."""

    def __init__(self, conn: AsyncConnection[Row]) -> None:
        self._conn = conn

    async def rows(
        self, sql: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> list[Row]:
        """Run a query; every row."""
        cursor = await self._conn.execute(sql, params)
        return await cursor.fetchall()

    async def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a statement; how many rows it changed."""
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount


class AsyncPipelinedTx(AsyncPostgresTx):
    """One statement sent after the tenant's ``set_config`` in one pipeline: one round trip.

    The pipeline is left (one Sync for both, which ends their implicit transaction) as soon
    as the statement is queued; its result is then read from what came back.
    """

    def __init__(self, conn: AsyncConnection[Row], pipeline: AsyncExitStack) -> None:
        super().__init__(conn)
        self._pipeline: AsyncExitStack | None = pipeline

    async def rows(
        self, sql: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> list[Row]:
        """Run the query; every row."""
        cursor = await self._sent(sql, params)
        return await cursor.fetchall()

    async def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run the statement; how many rows it changed."""
        cursor = await self._sent(sql, params)
        return cursor.rowcount

    async def _sent(
        self, sql: str, params: Sequence[object] | Mapping[str, object]
    ) -> AsyncCursor[Row]:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is None:
            msg = "a tenant's pipelined statement runs alone (use a transaction)"
            raise StoreError(msg)
        cursor = await self._conn.execute(sql, params)
        await pipeline.aclose()  # leaves pipeline mode: sends both, reads both results
        return cursor


class AsyncPostgresDriver:
    """A pool of connections to one PostgreSQL database."""

    dialect: Dialect = POSTGRES

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout_s: float = 5.0,
        schema: str | None = None,
        tenant: str = "",
    ) -> None:
        self._conninfo = conninfo
        self._tenant = tenant
        self._kwargs: dict[str, Any] = {"autocommit": True}
        if schema is not None:
            self._kwargs["options"] = f"-c search_path={schema}"
        self._sizes = (min_size, max_size)
        self._timeout_s = timeout_s
        self._pool: AsyncConnectionPool[AsyncConnection[Row]] | None = None
        self._creating = threading.Lock()
        self._ready = False

    async def _opened(self) -> AsyncConnectionPool[AsyncConnection[Row]]:
        pool = self._pool
        if pool is None:
            with self._creating:  # one pool, whichever task or thread comes first
                if self._pool is None:
                    self._pool = AsyncConnectionPool(
                        self._conninfo,
                        min_size=self._sizes[0],
                        max_size=self._sizes[1],
                        timeout=self._timeout_s,
                        kwargs=self._kwargs,
                        open=False,
                    )
                pool = self._pool
        if not self._ready:
            await pool.open(wait=False)  # a no-op once open: every first caller may call it
            self._ready = True
        return pool

    def transaction(self) -> AbstractAsyncContextManager[AsyncPostgresTx]:
        """One transaction on a pooled connection: committed, or rolled back on an error."""
        return self._connection(transaction=True)

    def statement(self) -> AbstractAsyncContextManager[AsyncPostgresTx]:
        """A pooled connection for one statement, outside a transaction (one round trip).

        A tenant-scoped driver sends ``set_config(tenant, is_local => true)`` and the
        statement in one pipeline: one implicit transaction, one round trip (libpq's pipeline
        mode; without it, a transaction that sets the tenant first).
        """
        if self._tenant and _PIPELINES:
            return self._pipelined()
        return self._connection(transaction=bool(self._tenant))

    @asynccontextmanager
    async def _pipelined(self) -> AsyncIterator[AsyncPostgresTx]:
        """The tenant and one statement in one round trip (one implicit transaction).

        In pipeline mode every statement up to the next sync shares one implicit
        transaction, so the tenant set "for this transaction" holds for the statement and
        ends with it (:class:`AsyncPipelinedTx`).
        """
        async with self._connection(transaction=False) as tx, AsyncExitStack() as pipeline:
            conn = tx._conn
            await pipeline.enter_async_context(conn.pipeline())
            await conn.execute(_SET_TENANT, (TENANT_SETTING, self._tenant))
            yield AsyncPipelinedTx(conn, pipeline)

    @asynccontextmanager
    async def _connection(self, *, transaction: bool) -> AsyncIterator[AsyncPostgresTx]:
        pool = await self._opened()
        try:
            async with pool.connection() as conn:
                if transaction:
                    async with conn.transaction():
                        if self._tenant:  # for the row-level security policies, this transaction
                            await conn.execute(_SET_TENANT, (TENANT_SETTING, self._tenant))
                        yield AsyncPostgresTx(conn)
                else:
                    yield AsyncPostgresTx(conn)
        except (DeadlockDetected, SerializationFailure) as error:
            raise Retry(message=str(error)) from error
        except PoolTimeout as error:
            msg = f"no PostgreSQL connection within {self._timeout_s} s: {error}"
            raise StoreTimeoutError(msg) from error
        except psycopg.OperationalError as error:
            msg = f"PostgreSQL unavailable: {error}"
            raise StoreUnavailableError(msg) from error
        except psycopg.Error as error:
            msg = f"PostgreSQL error: {error}"
            raise StoreError(msg) from error

    async def aclose(self) -> None:
        """Close the pool."""
        pool, self._pool = self._pool, None
        self._ready = False
        if pool is not None:
            await pool.close()
