"""Legacy source: Django's ``db``/``cached_db`` rows read straight from the database by URL.

For the bulk copy (``sessionary migrate --from django-db postgresql://...``) run where the
old project's settings are not at hand: the rows of ``django_session`` (or the table named)
are read with a plain connection, ``SELECT session_key, session_data, expire_date ... WHERE
expire_date > now``, and verified with the old ``SECRET_KEY`` exactly as
:class:`~sessionary.integrations.django.legacy.DjangoDbSource` does (Django's
``signing.loads``, its salt): this class only replaces the ORM by SQL. PostgreSQL
(``postgresql://``, psycopg) and SQLite (``sqlite:///path``, the standard library).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sessionary.backends.sql._urls import parse_postgres_url, parse_sqlite_url
from sessionary.exceptions import ConfigurationError, MigrationError, StoreError
from sessionary.integrations.django.legacy import DjangoDbSource
from sessionary.sansio.migration import LegacySession, Scanned

__all__ = ["DjangoSqlSource"]

_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def _quoted(table: str) -> str:
    """``table`` (or ``schema.table``) as a quoted SQL identifier; anything else refused."""
    if not _TABLE.fullmatch(table):
        msg = f"the session table must be a name or schema.name (got {table!r})"
        raise ConfigurationError(msg)
    return ".".join(f'"{part}"' for part in table.split("."))


def _utc(value: object) -> dt.datetime:
    """A row's ``expire_date``: PostgreSQL gives an aware datetime, SQLite Django's UTC text."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        msg = f"expire_date is not a date and time ({type(value).__name__})"
        raise StoreError(msg)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


class DjangoSqlSource(DjangoDbSource):
    """Django's session rows in the database at ``url``, verified with ``secret_keys``.

    ``secret_keys``: the old ``SECRET_KEY`` first, then its fallbacks; ``table``: the
    session model's table (``django_session``). SQLite rows are compared in UTC, as Django
    writes them with ``USE_TZ = True`` (its default). Call :meth:`close` when done.
    """

    def __init__(
        self,
        url: str,
        secret_keys: Sequence[str],
        *,
        table: str = "django_session",
        cookie_name: str = "sessionid",
    ) -> None:
        super().__init__(secret_keys, cookie_name=cookie_name)
        self._table = _quoted(table)
        self._sqlite = url.lower().startswith("sqlite:")
        self._target = parse_sqlite_url(url) if self._sqlite else parse_postgres_url(url).conninfo
        self._conn: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(table={self._table!r})"

    def _connection(self) -> Any:
        if self._conn is None:
            if self._sqlite:
                path = Path(self._target).resolve()
                if not path.is_file():
                    msg = f"no SQLite database at {path}"
                    raise StoreError(msg)
                self._conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True)
            else:
                import psycopg  # noqa: PLC0415 - the postgres extra

                try:
                    self._conn = psycopg.connect(self._target, autocommit=True)
                except psycopg.Error as exc:
                    msg = "the Django database could not be reached"
                    raise StoreError(msg) from exc
        return self._conn

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        """Run ``sql`` (``?`` placeholders) and return its rows; errors as ``StoreError``."""
        conn = self._connection()
        if not self._sqlite:
            sql = sql.replace("?", "%s")
        errors: tuple[type[Exception], ...] = (sqlite3.Error, *_psycopg_errors())
        try:
            cursor = conn.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
        except errors as exc:
            msg = f"the Django session table could not be read: {type(exc).__name__}"
            raise StoreError(msg) from exc

    def _now(self) -> object:
        now = dt.datetime.now(dt.timezone.utc)
        return now.replace(tzinfo=None).isoformat(" ") if self._sqlite else now

    def read(self, legacy_id: str) -> LegacySession | None:
        """The unexpired row of ``legacy_id``, decoded; ``None`` when there is none."""
        sql = f"SELECT session_data, expire_date FROM {self._table} "  # noqa: S608 - quoted name
        rows = self._rows(
            sql + "WHERE session_key = ? AND expire_date > ?", [legacy_id, self._now()]
        )
        if not rows:
            return None
        session_data, expire_date = rows[0]
        found = self.scanned(legacy_id, session_data, _utc(expire_date))[1]
        if isinstance(found, MigrationError):
            raise found
        return found

    def page(self, after: str, batch: int) -> list[Scanned]:
        """Up to ``batch`` unexpired rows whose key sorts after ``after``, decoded."""
        sql = (
            f"SELECT session_key, session_data, expire_date FROM {self._table} "  # noqa: S608
            "WHERE session_key > ? AND expire_date > ? ORDER BY session_key LIMIT ?"
        )
        rows = self._rows(sql, [after, self._now(), batch])
        return [self.scanned(key, data, _utc(expire)) for key, data, expire in rows]

    def delete(self, legacy_id: str) -> None:
        """Delete the row."""
        self._rows(f"DELETE FROM {self._table} WHERE session_key = ?", [legacy_id])  # noqa: S608
        if self._sqlite:
            self._connection().commit()

    def close(self) -> None:
        """Close the connection (a later call opens another)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _psycopg_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg  # noqa: PLC0415
    except ImportError:  # pragma: no cover - SQLite only
        return ()
    return (psycopg.Error,)
