"""Legacy source: Django's ``cache`` session backend, whose values the cache pickles.

Off by default: :class:`DjangoCacheSource` is built only with a
:class:`~sessionary.sansio.migration.PickleTrust` (the application's statement that only it
writes the cache), and is refused even then when sessionary can see that others may write it:
a Redis cache whose ``LOCATION`` carries no password, or memcached (no authentication). The
values are unpickled by Django's cache framework, exactly as the old application did when it
read them; sessionary itself never imports pickle. Read the risk in docs/migration.md first.

On Django's own Redis cache (``django.core.cache.backends.redis.RedisCache``) the source can
also list its sessions for the bulk copy: it ``SCAN``s the keys Django's key function makes
for them (``<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cache<session key>``) on the
cache's primary, reads each one's remaining time-to-live (``PTTL``) and its value through
Django's cache. Memcached and the local-memory cache cannot be listed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache

from sessionary.exceptions import ConfigurationError, MigrationError
from sessionary.sansio.migration import LegacySession, PickleTrust, Scanned

__all__ = ["KEY_PREFIX", "DjangoCacheSource"]

logger = logging.getLogger("sessionary")

KEY_PREFIX = "django.contrib.sessions.cache"
"""Django's cache key prefix of ``cache`` sessions."""
_SESSION_KEY = re.compile(r"[a-z0-9]{8,40}")
_NO_AUTHENTICATION = ("memcached", "pymemcache", "pylibmc")
_GLOB = re.compile(r"([*?\[\]\\])")  # characters SCAN's MATCH would read as a pattern
NOT_LISTABLE = (
    "only Django's Redis cache (django.core.cache.backends.redis.RedisCache) can list its "
    "sessions; a Memcached or local-memory cache cannot, so its sessions migrate through "
    "the read-through only (docs/migration.md)"
)
"""Why a cache other than Django's Redis cache has no bulk copy."""


def untrusted_writers(cache: Any) -> str | None:
    """Why others may write ``cache`` (a Django cache backend), or ``None`` if nothing shows it."""
    backend = f"{type(cache).__module__}.{type(cache).__name__}".lower()
    if any(name in backend for name in _NO_AUTHENTICATION):
        return "memcached has no authentication: anyone who reaches it can write a pickle"
    for location in _locations(cache):
        parts = urlsplit(str(location))
        if parts.scheme.startswith(("redis", "rediss", "unix")) and not parts.password:
            return f"the Redis at {parts.hostname or parts.path} is reached without a password"
    return None


def _servers(cache: BaseCache) -> str:
    """Where a cache built outside the settings is, for the log (hosts, never a password)."""
    hosts = [urlsplit(str(s)).hostname or str(urlsplit(str(s)).path) for s in _locations(cache)]
    return f"{type(cache).__name__} at {', '.join(hosts) or 'an unnamed location'}"


def _locations(cache: BaseCache) -> list[object]:
    return list(getattr(cache, "_servers", None) or ())


class DjangoCacheSource:
    """Sessions of Django's ``cache`` backend (``SESSION_ENGINE = "...backends.cache"``).

    ``trust`` is required (see the module doc); ``cache_alias`` is the old
    ``SESSION_CACHE_ALIAS``, or ``cache`` a Django cache built outside the settings (the
    ``sessionary migrate`` command builds a ``RedisCache`` from a URL); the trust rules apply
    to either. On Django's Redis cache a migrated session keeps the key's remaining
    time-to-live and :meth:`scan` lists the sessions (the bulk copy); another cache does not
    tell a value's expiry (the session gets sessionary's absolute timeout) and cannot be
    listed.
    """

    name = "django-cache"

    def __init__(
        self,
        *,
        trust: PickleTrust | None = None,
        cache_alias: str = "default",
        cookie_name: str = "sessionid",
        cache: BaseCache | None = None,
    ) -> None:
        if not isinstance(trust, PickleTrust):
            msg = (
                "Django's cache sessions are pickled: reading them runs the code of whoever "
                "wrote them. Pass trust=PickleTrust('who writes this cache and why nobody "
                "else can') only for a cache no one else can write (docs/migration.md)"
            )
            raise ConfigurationError(msg)
        self._cache = cache
        why = untrusted_writers(caches[cache_alias] if cache is None else cache)
        where = f"cache {cache_alias!r}" if cache is None else _servers(cache)
        if why is not None:
            msg = f"refusing to read pickled sessions from {where}: {why}"
            raise ConfigurationError(msg)
        logger.warning(
            "sessionary: reading pickled Django sessions from %s, trusted because: %s",
            where,
            trust.statement,
        )
        self.cache_alias = cache_alias
        self.cookie_name = cookie_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cache_alias={self.cache_alias!r})"

    def identify(self, cookie_value: str) -> str | None:
        """The session key the cookie carries, when it has Django's form."""
        return cookie_value if _SESSION_KEY.fullmatch(cookie_value) else None

    def cache(self) -> BaseCache:
        """The Django cache the sessions are in (the alias's, in this thread)."""
        return caches[self.cache_alias] if self._cache is None else self._cache

    def read(self, legacy_id: str) -> LegacySession | None:
        """The cached session (unpickled by Django's cache), or ``None``."""
        cache = self.cache()
        if not isinstance(cache, RedisCache):
            data = cache.get(KEY_PREFIX + legacy_id)
            return None if data is None else LegacySession(legacy_id, _session_data(data))
        from sessionary.backends.redis._errors import mapped_redis_errors  # noqa: PLC0415

        with mapped_redis_errors("legacy read"):  # the key's remaining time-to-live too
            [found] = self._read_many(cache, [legacy_id])
        if isinstance(found[1], MigrationError):
            raise found[1]
        return found[1]

    def delete(self, legacy_id: str) -> None:
        """Delete the cached session."""
        self.cache().delete(KEY_PREFIX + legacy_id)

    def _redis(self) -> tuple[RedisCache, Any]:
        """The Redis cache and a redis-py client of its primary (where Django writes)."""
        cache = self.cache()
        if not isinstance(cache, RedisCache):
            msg = f"cache {self.cache_alias!r}: {NOT_LISTABLE}"
            raise ConfigurationError(msg)
        return cache, cache._cache.get_client(None, write=True)  # Django's client of its primary

    def _pattern(self, cache: RedisCache) -> tuple[str, int]:
        """The ``SCAN`` pattern of the session keys, and where the session key starts."""
        full = cache.make_key(KEY_PREFIX)
        return _GLOB.sub(r"\\\1", full) + "*", len(full)

    def count(self, batch: int = 1000) -> int:
        """How many session keys the cache holds (``SCAN``, keys only): a progress bar's total."""
        from sessionary.backends.redis._errors import mapped_redis_errors  # noqa: PLC0415

        cache, client = self._redis()
        pattern, _ = self._pattern(cache)
        with mapped_redis_errors("legacy count"):
            return sum(1 for _ in client.scan_iter(match=pattern, count=batch))

    def page(self, cursor: int, batch: int) -> tuple[int, list[Scanned]]:
        """One ``SCAN`` step from ``cursor``: the next cursor (0: done) and its sessions read."""
        from sessionary.backends.redis._errors import mapped_redis_errors  # noqa: PLC0415

        cache, client = self._redis()
        pattern, start = self._pattern(cache)
        with mapped_redis_errors("legacy scan"):
            cursor, keys = client.scan(cursor, match=pattern, count=batch)
            ids = []
            for key in keys:
                name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
                legacy_id = name[start:]
                if (
                    _SESSION_KEY.fullmatch(legacy_id)
                    and cache.make_key(KEY_PREFIX + legacy_id) == name
                ):
                    ids.append(legacy_id)
            return int(cursor), self._read_many(cache, ids)

    def scan(self, batch: int = 500) -> Iterator[Scanned]:
        """Every session of a Redis cache, ``batch`` keys at a time (for the bulk copy).

        A value that does not unpickle to a mapping comes as its :class:`MigrationError`; a
        key that expired between the scan and the read as ``None``. Refused
        (:class:`ConfigurationError`) for a cache that cannot be listed.
        """
        cursor = None
        while cursor != 0:
            cursor, found = self.page(cursor or 0, batch)
            yield from found

    def _expiries(self, cache: RedisCache, ids: list[str]) -> list[int | None]:
        """Each key's expiry (ms since the epoch) from its ``PTTL``, in one round trip.

        ``None`` when the key has no expiry (Django's ``timeout=None``) or is gone.
        """
        client = cache._cache.get_client(None, write=True)
        pipe = client.pipeline(transaction=False)
        for legacy_id in ids:
            pipe.pttl(cache.make_key(KEY_PREFIX + legacy_id))
        now = int(time.time() * 1000)
        return [now + int(ttl) if int(ttl) >= 0 else None for ttl in pipe.execute()]

    def _read_many(self, cache: RedisCache, ids: list[str]) -> list[Scanned]:
        from redis.exceptions import RedisError  # noqa: PLC0415 - a Redis cache needs redis-py

        if not ids:
            return []
        expiries = self._expiries(cache, ids)
        names = [KEY_PREFIX + legacy_id for legacy_id in ids]
        try:
            values = cache.get_many(names)
        except RedisError:
            raise
        except Exception:  # a value that does not unpickle: read them one by one
            values = {name: _unpickled(cache, name) for name in names}
        out: list[Scanned] = []
        for legacy_id, name, expires_at in zip(ids, names, expiries, strict=True):
            value = values.get(name)
            if value is None:
                out.append((legacy_id, None))  # expired (or deleted) since the scan
                continue
            try:
                data = _session_data(value)
            except MigrationError as exc:
                out.append((legacy_id, exc))
                continue
            out.append((legacy_id, LegacySession(legacy_id, data, expires_at)))
        return out


def _unpickled(cache: BaseCache, name: str) -> object:
    """One value read through Django's cache; what does not unpickle as a ``MigrationError``."""
    from redis.exceptions import RedisError  # noqa: PLC0415

    try:
        return cache.get(name)
    except RedisError:
        raise
    except Exception:  # unpickling raises anything
        return MigrationError("django cache session: the value does not unpickle")


def _session_data(value: object) -> dict[str, Any]:
    """The session's attributes from a cached value (Django's ``_session_expiry`` removed)."""
    if isinstance(value, MigrationError):
        raise value
    if not isinstance(value, dict):
        msg = "django cache session: the value is not a mapping"
        raise MigrationError(msg)
    data = dict(value)
    data.pop("_session_expiry", None)  # Django's own; relative to a save time not kept
    return data
