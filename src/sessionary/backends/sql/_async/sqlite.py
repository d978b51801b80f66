"""SQLite session store: ``AsyncSQLiteStore`` (asyncio) and its generated twin ``SQLiteStore``.

The standard library's ``sqlite3`` on one database file (WAL mode, a busy timeout), which
several worker processes may share: sessions survive restarts with no server to run. The
asyncio store runs its blocking calls on a thread of its own (see
:mod:`sessionary.backends.sql._sqlite`).
"""

from __future__ import annotations

from sessionary.backends.sql._async.store import AsyncSQLStore
from sessionary.backends.sql._sqlite import DEFAULT_BUSY_TIMEOUT_S, AsyncSQLiteDriver
from sessionary.backends.sql._urls import parse_sqlite_url

__all__ = ["AsyncSQLiteStore"]


class AsyncSQLiteStore(AsyncSQLStore):
    """Sessions in a SQLite database file, shared by every process that opens it.

    ``path``: the database file. ``busy_timeout_s``: how long a write waits for another
    process's write lock before :class:`~sessionary.exceptions.StoreTimeoutError`.
    Create the tables once with ``sessionary db init --store sqlite:///path`` (or
    :meth:`init_schema`).
    """

    def __init__(
        self, path: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, tenant: str = ""
    ) -> None:
        super().__init__(
            AsyncSQLiteDriver(path, busy_timeout_s=busy_timeout_s),
            tenant=tenant,
            url_hint=f"sqlite:///{path}",
        )
        self.path = path

    @classmethod
    def from_url(cls, url: str, *, tenant: str = "") -> AsyncSQLiteStore:
        """A store for ``sqlite:///path.db``."""
        return cls(parse_sqlite_url(url), tenant=tenant)
