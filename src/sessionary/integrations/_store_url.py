"""A store named by a URL, for the adapters' settings.

Flask's and Quart's ``SESSIONARY_STORE_URL``, Django's ``SESSIONARY['STORE_URL']``: ``memory``
(this process only), a Redis URL (``redis://``, ``rediss://``, ``unix://``,
``redis+sentinel://``, ``redis+cluster://``) or a SQL one (``postgresql://...``,
``sqlite:///path.db``; its tables are created by ``sessionary db init --store URL``). The
store is the adapter's to close.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sessionary.stores.base import AsyncSessionStore, SessionStore

__all__ = ["async_store_from_url", "store_from_url"]

MEMORY = "memory"
"""The URL of a store in this process's memory (not shared with other processes)."""
PREFIX = "sessionary"
"""The default Redis key prefix."""


def store_from_url(url: str, *, prefix: str = PREFIX) -> SessionStore:
    """The synchronous store ``url`` names (``prefix``: the Redis key prefix)."""
    if url == MEMORY:
        from sessionary._sync.memory import MemoryStore  # noqa: PLC0415

        return MemoryStore()
    from sessionary.backends import sql  # noqa: PLC0415 - loads no driver until a SQL URL

    if sql.is_sql_url(url):
        return sql.sql_store_from_url(url)
    from sessionary.stores import RedisStore  # noqa: PLC0415 - an optional extra

    return RedisStore.from_url(url, prefix=prefix)


def async_store_from_url(url: str, *, prefix: str = PREFIX) -> AsyncSessionStore:
    """The asyncio store ``url`` names (``prefix``: the Redis key prefix)."""
    if url == MEMORY:
        from sessionary._async.memory import AsyncMemoryStore  # noqa: PLC0415

        return AsyncMemoryStore()
    from sessionary.backends import sql  # noqa: PLC0415 - loads no driver until a SQL URL

    if sql.is_sql_url(url):
        return sql.async_sql_store_from_url(url)
    from sessionary.stores import AsyncRedisStore  # noqa: PLC0415 - an optional extra

    return AsyncRedisStore.from_url(url, prefix=prefix)
