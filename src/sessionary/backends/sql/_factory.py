"""Build a SQL store from its URL: ``postgresql://...`` or ``sqlite:///path.db``."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sessionary.exceptions import ConfigurationError

if TYPE_CHECKING:
    from sessionary.backends.sql._async.store import AsyncSQLStore
    from sessionary.backends.sql._sync.store import SQLStore

__all__ = ["async_sql_store_from_url", "sql_store_from_url"]


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("sqlite", "postgresql", "postgres"):
        msg = f"not a SQL store URL (sqlite:///path.db or postgresql://...): {url!r}"
        raise ConfigurationError(msg)
    return scheme


def sql_store_from_url(url: str, *, tenant: str = "") -> SQLStore:
    """A synchronous SQL store for ``url``."""
    if _scheme(url) == "sqlite":
        from sessionary.backends.sql._sync.sqlite import SQLiteStore  # noqa: PLC0415

        return SQLiteStore.from_url(url, tenant=tenant)
    from sessionary.backends.sql._sync.postgres import PostgresStore  # noqa: PLC0415

    return PostgresStore.from_url(url, tenant=tenant)


def async_sql_store_from_url(url: str, *, tenant: str = "") -> AsyncSQLStore:
    """An asyncio SQL store for ``url``."""
    if _scheme(url) == "sqlite":
        from sessionary.backends.sql._async.sqlite import AsyncSQLiteStore  # noqa: PLC0415

        return AsyncSQLiteStore.from_url(url, tenant=tenant)
    from sessionary.backends.sql._async.postgres import AsyncPostgresStore  # noqa: PLC0415

    return AsyncPostgresStore.from_url(url, tenant=tenant)
