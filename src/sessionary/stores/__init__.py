"""Session stores, sync and async.

=======================  =========================  =======================================
asyncio                  sync                       where sessions live
=======================  =========================  =======================================
``AsyncMemoryStore``     ``MemoryStore``            this process (one worker)
``AsyncRedisStore``      ``RedisStore``             Redis or Valkey (extra: ``redis``)
``CookieStore``          ``CookieStore``            the client, sealed (extra: ``crypto``)
=======================  =========================  =======================================

Redis stores are imported lazily, so the memory stores work without redis-py installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sessionary._async.memory import AsyncMemoryStore
from sessionary._sync.memory import MemoryStore
from sessionary.stores._redis_durability import ReplicaWait
from sessionary.stores.base import AsyncSessionStore, SessionStore
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from sessionary._async.redis import AsyncRedisStore
    from sessionary._async.redis_events import AsyncRedisEventStream
    from sessionary._sync.redis import RedisStore
    from sessionary._sync.redis_events import RedisEventStream

__all__ = [
    "AsyncMemoryStore",
    "AsyncRedisEventStream",
    "AsyncRedisStore",
    "AsyncSessionStore",
    "CookieStore",
    "MemoryStore",
    "RedisEventStream",
    "RedisStore",
    "ReplicaWait",
    "SessionStore",
]

_LAZY = {
    "AsyncRedisStore": "sessionary._async.redis",
    "RedisStore": "sessionary._sync.redis",
    "AsyncRedisEventStream": "sessionary._async.redis_events",
    "RedisEventStream": "sessionary._sync.redis_events",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib  # noqa: PLC0415

    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] == "redis":
            msg = f"{name} needs redis-py: pip install 'sessionary[redis]'"
            raise ImportError(msg) from exc
        raise
    return getattr(module, name)
