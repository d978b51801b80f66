"""Legacy source: Django's ``cache`` session backend, whose values the cache pickles.

Off by default: :class:`DjangoCacheSource` is built only with a
:class:`~sessionary.sansio.migration.PickleTrust` (the application's statement that only it
writes the cache), and is refused even then when sessionary can see that others may write it:
a Redis cache whose ``LOCATION`` carries no password, or memcached (no authentication). The
values are unpickled by Django's cache framework, exactly as the old application did when it
read them; sessionary itself never imports pickle. Read the risk in docs/migration.md first.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import caches

from sessionary.exceptions import ConfigurationError, MigrationError
from sessionary.sansio.migration import LegacySession, PickleTrust

__all__ = ["KEY_PREFIX", "DjangoCacheSource"]

logger = logging.getLogger("sessionary")

KEY_PREFIX = "django.contrib.sessions.cache"
"""Django's cache key prefix of ``cache`` sessions."""
_SESSION_KEY = re.compile(r"[a-z0-9]{8,40}")
_NO_AUTHENTICATION = ("memcached", "pymemcache", "pylibmc")


def untrusted_writers(cache: Any) -> str | None:
    """Why others may write ``cache`` (a Django cache backend), or ``None`` if nothing shows it."""
    backend = f"{type(cache).__module__}.{type(cache).__name__}".lower()
    if any(name in backend for name in _NO_AUTHENTICATION):
        return "memcached has no authentication: anyone who reaches it can write a pickle"
    for location in getattr(cache, "_servers", None) or ():
        parts = urlsplit(str(location))
        if parts.scheme.startswith(("redis", "rediss", "unix")) and not parts.password:
            return f"the Redis at {parts.hostname or parts.path} is reached without a password"
    return None


class DjangoCacheSource:
    """Sessions of Django's ``cache`` backend (``SESSION_ENGINE = "...backends.cache"``).

    ``trust`` is required (see the module doc); ``cache_alias`` is the old
    ``SESSION_CACHE_ALIAS``. The cache does not tell a value's expiry, so a migrated session
    gets sessionary's absolute timeout. No bulk copy: a cache cannot list its keys.
    """

    name = "django-cache"

    def __init__(
        self,
        *,
        trust: PickleTrust | None = None,
        cache_alias: str = "default",
        cookie_name: str = "sessionid",
    ) -> None:
        if not isinstance(trust, PickleTrust):
            msg = (
                "Django's cache sessions are pickled: reading them runs the code of whoever "
                "wrote them. Pass trust=PickleTrust('who writes this cache and why nobody "
                "else can') only for a cache no one else can write (docs/migration.md)"
            )
            raise ConfigurationError(msg)
        why = untrusted_writers(caches[cache_alias])
        if why is not None:
            msg = f"refusing to read pickled sessions from cache {cache_alias!r}: {why}"
            raise ConfigurationError(msg)
        logger.warning(
            "sessionary: reading pickled Django sessions from cache %r, trusted because: %s",
            cache_alias,
            trust.statement,
        )
        self.cache_alias = cache_alias
        self.cookie_name = cookie_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cache_alias={self.cache_alias!r})"

    def identify(self, cookie_value: str) -> str | None:
        """The session key the cookie carries, when it has Django's form."""
        return cookie_value if _SESSION_KEY.fullmatch(cookie_value) else None

    def read(self, legacy_id: str) -> LegacySession | None:
        """The cached session (unpickled by Django's cache), or ``None``."""
        data = caches[self.cache_alias].get(KEY_PREFIX + legacy_id)
        if data is None:
            return None
        if not isinstance(data, dict):
            msg = "django cache session: the value is not a mapping"
            raise MigrationError(msg)
        data = dict(data)
        data.pop("_session_expiry", None)  # Django's own; relative to a save time not kept
        return LegacySession(legacy_id, data, None)

    def delete(self, legacy_id: str) -> None:
        """Delete the cached session."""
        caches[self.cache_alias].delete(KEY_PREFIX + legacy_id)
