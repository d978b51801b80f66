"""The Redis backend: stores, event streams and what tools need to read a deployment.

==========================  ========================  ==========================================
asyncio                     sync                      what
==========================  ========================  ==========================================
``AsyncRedisStore``         ``RedisStore``            the session store (``from_url()``)
``AsyncRedisEventStream``   ``RedisEventStream``      lifecycle events in a Redis Stream
``AsyncCachingStore``       ``CachingStore``          a local cache in front of the store
==========================  ========================  ==========================================

Pure helpers, for tools that work on a deployment's keys (the ``sessionary`` command):

* :class:`RedisLayout`: the key names under a prefix and the fixed ``SCAN`` patterns;
* :data:`SESSION_META_FIELDS` and :func:`parse_session_record`: one ``HMGET`` reads what a
  session record is (its metadata, and whether it is a tombstone);
* :func:`parse_redis_url` and :class:`RedisTarget`: which topology a store URL names;
* :class:`mapped_redis_errors`: redis-py's exceptions raised as sessionary's store errors;
* :class:`ReplicaWait`: the durable-write policy a store is given.

Applications usually take the stores from :mod:`sessionary.stores`, the same objects. Every
name is imported on first use: ``ReplicaWait``, ``RedisLayout`` and the URL parser work
without redis-py installed. The modules with a leading underscore are this package's own.
"""

from __future__ import annotations

import typing

from sessionary._lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from sessionary.backends.redis._async.cache import AsyncCachingStore
    from sessionary.backends.redis._async.events import AsyncRedisEventStream
    from sessionary.backends.redis._async.store import AsyncRedisStore
    from sessionary.backends.redis._durability import ReplicaWait
    from sessionary.backends.redis._errors import mapped_redis_errors
    from sessionary.backends.redis._layout import RedisLayout
    from sessionary.backends.redis._sync.cache import CachingStore
    from sessionary.backends.redis._sync.events import RedisEventStream
    from sessionary.backends.redis._sync.store import RedisStore
    from sessionary.backends.redis._urls import RedisTarget, parse_redis_url
    from sessionary.backends.redis._users import (
        SESSION_META_FIELDS,
        SessionRecord,
        parse_session_record,
    )

__all__ = [
    "SESSION_META_FIELDS",
    "AsyncCachingStore",
    "AsyncRedisEventStream",
    "AsyncRedisStore",
    "CachingStore",
    "RedisEventStream",
    "RedisLayout",
    "RedisStore",
    "RedisTarget",
    "ReplicaWait",
    "SessionRecord",
    "mapped_redis_errors",
    "parse_redis_url",
    "parse_session_record",
]

_HOMES = {
    "AsyncRedisStore": "_async.store",
    "RedisStore": "_sync.store",
    "AsyncRedisEventStream": "_async.events",
    "RedisEventStream": "_sync.events",
    "AsyncCachingStore": "_async.cache",
    "CachingStore": "_sync.cache",
    "ReplicaWait": "_durability",
    "mapped_redis_errors": "_errors",
    "RedisLayout": "_layout",
    "RedisTarget": "_urls",
    "parse_redis_url": "_urls",
    "SESSION_META_FIELDS": "_users",
    "SessionRecord": "_users",
    "parse_session_record": "_users",
}

__getattr__ = _lazy_exports(__name__, {name: f"{__name__}.{home}" for name, home in _HOMES.items()})
