# The types of sessionary.stores, whose store classes are imported on first use (see
# __init__.py and sessionary/_lazy.py): type checkers read this stub, the interpreter never.
from sessionary._async.delegating import AsyncDelegatingStore as AsyncDelegatingStore
from sessionary._async.memory import AsyncMemoryStore as AsyncMemoryStore
from sessionary._sync.delegating import DelegatingStore as DelegatingStore
from sessionary._sync.memory import MemoryStore as MemoryStore
from sessionary.backends.redis import AsyncCachingStore as AsyncCachingStore
from sessionary.backends.redis import AsyncRedisEventStream as AsyncRedisEventStream
from sessionary.backends.redis import AsyncRedisStore as AsyncRedisStore
from sessionary.backends.redis import CachingStore as CachingStore
from sessionary.backends.redis import RedisEventStream as RedisEventStream
from sessionary.backends.redis import RedisStore as RedisStore
from sessionary.backends.redis import ReplicaWait as ReplicaWait
from sessionary.backends.sql import AsyncPostgresStore as AsyncPostgresStore
from sessionary.backends.sql import AsyncSQLiteStore as AsyncSQLiteStore
from sessionary.backends.sql import PostgresStore as PostgresStore
from sessionary.backends.sql import SQLiteStore as SQLiteStore
from sessionary.stores.base import AsyncSessionStore as AsyncSessionStore
from sessionary.stores.base import SessionStore as SessionStore
from sessionary.stores.cookie import CookieStore as CookieStore

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
