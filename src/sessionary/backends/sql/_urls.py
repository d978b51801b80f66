"""Store URLs of the SQL backends, parsed without I/O.

* ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (``sqlite:///:memory:``
  works but is private to one store, like the memory store);
* ``postgresql://user:password@host:port/database?sslmode=require&pool_max=20`` (also
  ``postgres://``): every query parameter but the pool's (``pool_min``, ``pool_max``,
  ``pool_timeout``) and ``schema`` is handed to libpq as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from sessionary.exceptions import ConfigurationError

__all__ = ["SQL_SCHEMES", "PostgresTarget", "is_sql_url", "parse_postgres_url", "parse_sqlite_url"]

SQL_SCHEMES = ("sqlite", "postgresql", "postgres")
_POOL_OPTIONS = {"pool_min": "min_size", "pool_max": "max_size"}


def is_sql_url(url: str) -> bool:
    """Whether ``url`` names a SQL store."""
    return urlsplit(url).scheme.lower() in SQL_SCHEMES


def parse_sqlite_url(url: str) -> str:
    """The database path of a ``sqlite:///path`` URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite" or parts.netloc:
        msg = f"a SQLite store URL reads sqlite:///path.db (got {url!r})"
        raise ConfigurationError(msg)
    path = unquote(parts.path)[1:]  # the third slash starts the path: sqlite:////abs
    if not path:
        msg = f"the SQLite store URL names no file: {url!r}"
        raise ConfigurationError(msg)
    return path


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """What a ``postgresql://`` URL asks for."""

    conninfo: str = field(repr=False)
    """The URL for libpq, without sessionary's own options."""
    display: str
    """The URL without its password (for messages and logs)."""
    min_size: int = 1
    max_size: int = 10
    timeout_s: float = 5.0
    schema: str | None = None


def parse_postgres_url(url: str) -> PostgresTarget:
    """Split a ``postgresql://`` URL into libpq's part and the pool's options."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        msg = f"a PostgreSQL store URL starts with postgresql:// (got {parts.scheme!r})"
        raise ConfigurationError(msg)
    kept: list[tuple[str, str]] = []
    sizes: dict[str, int] = {}
    timeout_s, schema = 5.0, None
    try:
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in _POOL_OPTIONS:
                sizes[_POOL_OPTIONS[name]] = int(value)
            elif name == "pool_timeout":
                timeout_s = float(value)
            elif name == "schema":
                schema = value
            else:
                kept.append((name, value))
    except ValueError as error:
        msg = f"bad pool option in the PostgreSQL store URL: {error}"
        raise ConfigurationError(msg) from None
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), ""))
    host = parts.hostname or ""
    where = f"{host}:{parts.port}" if parts.port else host
    user = f"{parts.username}@" if parts.username else ""
    display = urlunsplit(("postgresql", f"{user}{where}", parts.path, "", ""))
    return PostgresTarget(
        conninfo=conninfo, display=display, schema=schema, timeout_s=timeout_s, **sizes
    )
