"""PostgreSQL session store: ``AsyncPostgresStore`` (the sync module is generated).

The SQL store over the PostgreSQL driver (``postgres_driver.py``), with the database's clock
as the one authority for expiry.
"""

from __future__ import annotations

from sessionary.backends.sql._async.postgres_driver import AsyncPostgresDriver
from sessionary.backends.sql._async.store import AsyncSQLStore
from sessionary.backends.sql._urls import parse_postgres_url
from sessionary.stores.base import Capability

__all__ = ["AsyncPostgresStore"]


class AsyncPostgresStore(AsyncSQLStore):
    """Sessions in PostgreSQL; its clock is the one authority expiry is judged by (R38).

    ``conninfo``: a libpq connection string or ``postgresql://`` URL; ``min_size``,
    ``max_size``: the pool's bounds; ``timeout_s``: how long an operation waits for a
    pooled connection; ``schema``: the schema (``search_path``) holding the tables. Create
    them once with ``sessionary db init --store postgresql://...`` (or :meth:`init_schema`).
    ``tenant``: the tenant this store's rows belong to; every transaction sets it
    (``set_config('app.current_tenant', tenant, true)``) for the row-level security
    policies of ``init_schema(row_security=True)`` (``sessionary db init --row-security``).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout_s: float = 5.0,
        schema: str | None = None,
        tenant: str = "",
        display: str = "postgresql://...",
    ) -> None:
        driver = AsyncPostgresDriver(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout_s=timeout_s,
            schema=schema,
            tenant=tenant,
        )
        super().__init__(driver, tenant=tenant, url_hint=display)

    capabilities = AsyncSQLStore.capabilities | {Capability.CLOCK}
    """A SQL store's capabilities, and the database's clock (``server_time``)."""

    @classmethod
    def from_url(cls, url: str, *, tenant: str = "") -> AsyncPostgresStore:
        """A store for ``postgresql://user@host/db?sslmode=...&pool_max=20&schema=...``."""
        target = parse_postgres_url(url)
        return cls(
            target.conninfo,
            min_size=target.min_size,
            max_size=target.max_size,
            timeout_s=target.timeout_s,
            schema=target.schema,
            tenant=tenant,
            display=target.display,
        )
