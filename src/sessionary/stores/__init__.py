"""Session stores, sync and async: where applications take them from.

=======================  =========================  =======================================
asyncio                  sync                       where sessions live
=======================  =========================  =======================================
``AsyncMemoryStore``     ``MemoryStore``            this process (one worker)
``AsyncRedisStore``      ``RedisStore``             Redis or Valkey (extra: ``redis``)
``AsyncPostgresStore``   ``PostgresStore``          PostgreSQL (extra: ``postgres``)
``AsyncSQLiteStore``     ``SQLiteStore``            a SQLite file, shared by worker processes
``CookieStore``          ``CookieStore``            the client, sealed (extra: ``crypto``)
=======================  =========================  =======================================

Also here: the base of store wrappers (``AsyncDelegatingStore``, ``DelegatingStore``: a
cache or a tracer overrides only what it changes), the Redis event streams
(``AsyncRedisEventStream``, ``RedisEventStream``), the durable-write policy ``ReplicaWait``,
and the store protocols (``AsyncSessionStore``, ``SessionStore``; the capability protocols
are in :mod:`sessionary.stores.base`).

The package itself holds what every store shares: the protocols (:mod:`~.base`), the memory
engine (:mod:`~.memory`) and the sealed cookie store (:mod:`~.cookie`). The stores that do
I/O live above it, in the I/O shell (:mod:`sessionary._async.memory`) and in the backends
(:mod:`sessionary.backends.redis`); this face names them as strings and imports each on
first use, so importing :mod:`sessionary.stores` loads neither redis-py nor asyncio.
"""

from __future__ import annotations

from sessionary._lazy import lazy_exports as _lazy_exports
from sessionary.stores.base import AsyncSessionStore, SessionStore
from sessionary.stores.cookie import CookieStore

__all__ = [
    "AsyncCachingStore",
    "AsyncDelegatingStore",
    "AsyncMemoryStore",
    "AsyncPostgresStore",
    "AsyncRedisEventStream",
    "AsyncRedisStore",
    "AsyncSQLiteStore",
    "AsyncSessionStore",
    "CachingStore",
    "CookieStore",
    "DelegatingStore",
    "MemoryStore",
    "PostgresStore",
    "RedisEventStream",
    "RedisStore",
    "ReplicaWait",
    "SQLiteStore",
    "SessionStore",
]

_REDIS = "sessionary.backends.redis"
_SQL = "sessionary.backends.sql"
__getattr__ = _lazy_exports(
    __name__,
    {
        "AsyncMemoryStore": "sessionary._async.memory",
        "AsyncDelegatingStore": "sessionary._async.delegating",
        "DelegatingStore": "sessionary._sync.delegating",
        "MemoryStore": "sessionary._sync.memory",
        "AsyncRedisStore": _REDIS,
        "RedisStore": _REDIS,
        "AsyncRedisEventStream": _REDIS,
        "RedisEventStream": _REDIS,
        "ReplicaWait": _REDIS,
        "AsyncCachingStore": _REDIS,
        "CachingStore": _REDIS,
        "AsyncPostgresStore": _SQL,
        "PostgresStore": _SQL,
        "AsyncSQLiteStore": _SQL,
        "SQLiteStore": _SQL,
    },
)
