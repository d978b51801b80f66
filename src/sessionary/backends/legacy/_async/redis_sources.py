"""Legacy sources on Redis: starsessions 2.x (JSON) and Flask-Session 0.6+ (msgpack).

Both keep one string per session under ``prefix + session ID`` with a time-to-live; the
cookie carries the session ID (Flask-Session's optionally signed with the old
``SECRET_KEY``). The client is the application's own redis-py client, connected to the
legacy Redis; errors are mapped to :class:`~sessionary.exceptions.StoreError`.
"""

from __future__ import annotations

import re
import time

from redis.asyncio import Redis

from sessionary.backends.legacy.formats import decode_flask_session, decode_starsessions
from sessionary.backends.redis._errors import mapped_redis_errors
from sessionary.sansio.migration import LegacySession

__all__ = ["AsyncFlaskSessionSource", "AsyncStarsessionsSource"]

_LEGACY_ID = re.compile(r"[A-Za-z0-9_\-]{8,256}")


class _AsyncRedisSource:
    """A legacy library keeping each session as one Redis string with a time-to-live."""

    name = "redis"
    cookie_name = "session"

    def __init__(self, client: Redis, *, prefix: str, cookie_name: str) -> None:
        self.client = client
        self.prefix = prefix
        self.cookie_name = cookie_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self.prefix!r})"

    def _id(self, value: str) -> str | None:
        return value if _LEGACY_ID.fullmatch(value) else None

    async def _fetch(self, legacy_id: str) -> tuple[bytes | None, int | None]:
        """The record and its remaining time-to-live (ms), in one round trip."""
        key = self.prefix + legacy_id
        pipe = self.client.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        with mapped_redis_errors("legacy read"):
            raw, ttl = await pipe.execute()
        remaining = int(ttl) if isinstance(ttl, int) and ttl >= 0 else None
        return raw, remaining

    async def delete(self, legacy_id: str) -> None:
        """Delete the legacy record (idempotent)."""
        with mapped_redis_errors("legacy delete"):
            await self.client.delete(self.prefix + legacy_id)


def _expiry(remaining_ms: int | None) -> int | None:
    return None if remaining_ms is None else int(time.time() * 1000) + remaining_ms


class AsyncStarsessionsSource(_AsyncRedisSource):
    """starsessions 2.x sessions in Redis (``RedisStore`` with the default ``JsonSerializer``).

    ``prefix`` is the store's key prefix (starsessions' default ``"starsessions."``),
    ``cookie_name`` the middleware's (``"session"``).
    """

    name = "starsessions"

    def __init__(
        self, client: Redis, *, prefix: str = "starsessions.", cookie_name: str = "session"
    ) -> None:
        super().__init__(client, prefix=prefix, cookie_name=cookie_name)

    def identify(self, cookie_value: str) -> str | None:
        """The session ID the cookie carries (starsessions does not sign it)."""
        return self._id(cookie_value)

    async def read(self, legacy_id: str) -> LegacySession | None:
        """The session, its lifetime from its metadata or else from the key's time-to-live."""
        raw, remaining = await self._fetch(legacy_id)
        if raw is None:
            return None
        data, expires_at = decode_starsessions(raw)
        if expires_at is None:
            expires_at = _expiry(remaining)
        return LegacySession(legacy_id, data, expires_at)


class AsyncFlaskSessionSource(_AsyncRedisSource):
    """Flask-Session 0.6+ sessions in Redis (``SESSION_TYPE="redis"``, msgpack records).

    ``prefix`` is ``SESSION_KEY_PREFIX`` (default ``"session:"``), ``cookie_name`` Flask's
    ``SESSION_COOKIE_NAME``; give ``secret_key`` (the old ``SECRET_KEY``) when the app set
    ``SESSION_USE_SIGNER=True``: cookies whose signature does not verify are not migrated.
    """

    name = "flask-session"

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "session:",
        cookie_name: str = "session",
        secret_key: str | bytes | None = None,
    ) -> None:
        super().__init__(client, prefix=prefix, cookie_name=cookie_name)
        self._signer = None
        if secret_key is not None:
            from itsdangerous import Signer  # noqa: PLC0415 - only for signed session IDs

            self._signer = Signer(secret_key, salt="flask-session", key_derivation="hmac")

    def identify(self, cookie_value: str) -> str | None:
        """The session ID the cookie carries, its signature checked when one is configured."""
        if self._signer is None:
            return self._id(cookie_value)
        from itsdangerous import BadSignature  # noqa: PLC0415

        try:
            unsigned = self._signer.unsign(cookie_value).decode("ascii", "replace")
        except BadSignature:
            return None
        return self._id(unsigned)

    async def read(self, legacy_id: str) -> LegacySession | None:
        """The session; its expiry is the key's time-to-live (Flask-Session's own rule)."""
        raw, remaining = await self._fetch(legacy_id)
        if raw is None:
            return None
        return LegacySession(legacy_id, decode_flask_session(raw), _expiry(remaining))
