"""SQLite connections for the SQL stores: ``SQLiteDriver`` and ``AsyncSQLiteDriver``.

Standard library ``sqlite3`` only. The database runs in WAL mode (readers never wait for
the writer) with a busy timeout (a writer waits for another process's write lock instead of
failing at once), and every transaction begins with ``BEGIN IMMEDIATE``: it takes the write
lock up front, so two processes never deadlock upgrading a read to a write. Several
processes may share one file (the multi-worker demo).

``AsyncSQLiteDriver`` runs every call on a dedicated thread, one at a time, so the event
loop never blocks on the disk or on another process's lock; ``SQLiteDriver`` serialises its
threads with a lock. sqlite3 errors are mapped to sessionary's store errors here.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from functools import partial
from typing import Any, TypeVar

from sessionary.backends.sql._dialect import SQLITE, Dialect
from sessionary.exceptions import StoreError, StoreTimeoutError, StoreUnavailableError

__all__ = ["AsyncSQLiteDriver", "AsyncSQLiteTx", "SQLiteDriver", "SQLiteTx"]

T = TypeVar("T")
Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

DEFAULT_BUSY_TIMEOUT_S = 5.0


def _mapped(error: sqlite3.Error) -> StoreError:
    text = str(error)
    if isinstance(error, sqlite3.OperationalError) and "locked" in text:
        return StoreTimeoutError(f"SQLite database is locked: {text}")
    if isinstance(error, sqlite3.OperationalError):
        return StoreUnavailableError(f"SQLite error: {text}")
    return StoreError(f"SQLite error: {text}")


class _Connection:
    """One sqlite3 connection, configured for the stores; every call maps its errors."""

    def __init__(self, path: str, busy_timeout_s: float) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self.busy_timeout_s,
                    isolation_level=None,  # explicit BEGIN IMMEDIATE / COMMIT below
                    check_same_thread=False,  # one thread at a time: the drivers serialise
                )
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as error:
                raise _mapped(error) from error
            self._conn = conn
        return self._conn

    def begin(self) -> None:
        try:
            conn = self._open()
            if conn.in_transaction:  # left open by a caller cancelled while it began
                conn.execute("ROLLBACK")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise _mapped(error) from error

    def finish(self, *, commit: bool) -> None:
        conn = self._conn
        if conn is None or not conn.in_transaction:
            return
        try:
            conn.execute("COMMIT" if commit else "ROLLBACK")
        except sqlite3.Error as error:
            if commit:
                conn.rollback()
                raise _mapped(error) from error

    def rows(self, sql: str, params: Params) -> list[Row]:
        try:
            bound = params if isinstance(params, Mapping) else tuple(params)
            return self._open().execute(sql, bound).fetchall()
        except sqlite3.Error as error:
            raise _mapped(error) from error

    def run(self, sql: str, params: Sequence[object]) -> int:
        try:
            return self._open().execute(sql, tuple(params)).rowcount
        except sqlite3.Error as error:
            raise _mapped(error) from error

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class SQLiteTx:
    """A transaction on a :class:`SQLiteDriver`."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query; every row."""
        return self._conn.rows(sql, params)

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a statement; how many rows it changed."""
        return self._conn.run(sql, params)


class SQLiteDriver:
    """A SQLite database file for a synchronous store (threads take turns)."""

    dialect: Dialect = SQLITE

    def __init__(self, path: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self._conn = _Connection(path, busy_timeout_s)
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTx]:
        """One transaction (``BEGIN IMMEDIATE``): committed, or rolled back on an error."""
        with self._lock:
            self._conn.begin()
            try:
                yield SQLiteTx(self._conn)
            except BaseException:
                self._conn.finish(commit=False)
                raise
            self._conn.finish(commit=True)

    def statement(self) -> AbstractContextManager[SQLiteTx]:
        """The same as :meth:`transaction` (SQLite's round trips are local calls)."""
        return self.transaction()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


class AsyncSQLiteTx:
    """A transaction on an :class:`AsyncSQLiteDriver`: each call runs on its thread."""

    def __init__(self, driver: AsyncSQLiteDriver) -> None:
        self._driver = driver

    async def rows(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a query; every row."""
        return await self._driver.call(self._driver.conn.rows, sql, params)

    async def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a statement; how many rows it changed."""
        return await self._driver.call(self._driver.conn.run, sql, params)


class AsyncSQLiteDriver:
    """A SQLite database file for an asyncio store: blocking calls run on a thread of its own."""

    dialect: Dialect = SQLITE

    def __init__(self, path: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self.conn = _Connection(path, busy_timeout_s)
        self._executor: ThreadPoolExecutor | None = None
        self._turns: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the driver's thread."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sessionary-sqlite")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _turn(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._turns.get(loop)
        if lock is None:
            for old in [known for known in self._turns if known.is_closed()]:
                del self._turns[old]
            lock = self._turns[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSQLiteTx]:
        """One transaction (``BEGIN IMMEDIATE``): committed, or rolled back on an error."""
        async with self._turn():
            await self.call(self.conn.begin)
            try:
                yield AsyncSQLiteTx(self)
            except BaseException:
                await asyncio.shield(self.call(partial(self.conn.finish, commit=False)))
                raise
            await self.call(partial(self.conn.finish, commit=True))

    def statement(self) -> AbstractAsyncContextManager[AsyncSQLiteTx]:
        """The same as :meth:`transaction` (SQLite's round trips are local calls)."""
        return self.transaction()

    async def aclose(self) -> None:
        """Close the connection and stop the thread."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self.conn.close)
            executor.shutdown(wait=False)
        else:
            self.conn.close()
