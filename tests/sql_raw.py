"""Direct access to a SQL store's tables, below the store API (the attacker's or operator's view).

Statements are written with ``?`` placeholders; each helper runs one in a transaction of its
own on the store's driver. ``async_*`` for the asyncio stores, ``sync_*`` for their twins
(the names ``scripts/unasync.py`` maps one onto the other).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sessionary.backends.sql import AsyncSQLStore, SQLStore


async def async_sql_rows(
    store: AsyncSQLStore, sql: str, params: Sequence[object] = ()
) -> list[tuple[Any, ...]]:
    """The rows of a query."""
    driver = store._driver
    async with driver.transaction() as tx:
        return await tx.rows(driver.dialect.sql(sql), params)


async def async_sql_run(store: AsyncSQLStore, sql: str, params: Sequence[object] = ()) -> int:
    """Run a statement; how many rows it changed."""
    driver = store._driver
    async with driver.transaction() as tx:
        return await tx.run(driver.dialect.sql(sql), params)


def sync_sql_rows(
    store: SQLStore, sql: str, params: Sequence[object] = ()
) -> list[tuple[Any, ...]]:
    """The rows of a query."""
    driver = store._driver
    with driver.transaction() as tx:
        return tx.rows(driver.dialect.sql(sql), params)


def sync_sql_run(store: SQLStore, sql: str, params: Sequence[object] = ()) -> int:
    """Run a statement; how many rows it changed."""
    driver = store._driver
    with driver.transaction() as tx:
        return tx.run(driver.dialect.sql(sql), params)
