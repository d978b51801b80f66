"""Legacy sources on Redis: starsessions 2.x (JSON) and Flask-Session 0.6+ (msgpack).

Both keep one string per session under ``prefix + session ID`` with a time-to-live; the
cookie carries the session ID (Flask-Session's optionally signed with the old
``SECRET_KEY``). The client is the application's own redis-py client, connected to the
legacy Redis; errors are mapped to :class:`~sessionary.exceptions.StoreError`.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from sessionary.backends.legacy.formats import decode_flask_session, decode_starsessions
from sessionary.backends.redis._errors import mapped_redis_errors
from sessionary.exceptions import MigrationError
from sessionary.sansio.migration import LegacySession, Scanned

__all__ = ["AsyncFlaskSessionSource", "AsyncStarsessionsSource"]

_LEGACY_ID = re.compile(r"[A-Za-z0-9_\-]{8,256}")
_GLOB = re.compile(r"([*?\[\]\\])")  # characters SCAN's MATCH would read as a pattern


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

    def _session(self, legacy_id: str, raw: bytes, remaining: int | None) -> LegacySession:
        raise NotImplementedError  # each library's decoder

    async def read(self, legacy_id: str) -> LegacySession | None:
        """The session, or ``None`` when there is no record (expired, deleted, never was)."""
        raw, remaining = await self._fetch(legacy_id)
        return None if raw is None else self._session(legacy_id, raw, remaining)

    def _pattern(self) -> str:
        return _GLOB.sub(r"\\\1", self.prefix) + "*"

    async def count(self, batch: int = 1000) -> int:
        """How many keys the prefix holds (``SCAN``, keys only): a progress bar's total."""
        total = 0
        with mapped_redis_errors("legacy count"):
            async for _ in self.client.scan_iter(match=self._pattern(), count=batch):
                total += 1
        return total

    async def scan(self, batch: int = 500) -> AsyncIterator[Scanned]:
        """Every session under the prefix (``SCAN``), read ``batch`` at a time in one round trip.

        A record that does not decode comes as its :class:`MigrationError`; one that expired
        between the scan and the read as ``None``. Keys that are not session IDs are skipped.
        """
        pattern = self._pattern()
        start = len(self.prefix)
        ids: list[str] = []
        with mapped_redis_errors("legacy scan"):
            async for key in self.client.scan_iter(match=pattern, count=batch):
                name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
                legacy_id = self._id(name[start:])
                if legacy_id is None:
                    continue
                ids.append(legacy_id)
                if len(ids) >= batch:
                    for item in await self._read_batch(ids):
                        yield item
                    ids = []
            for item in await self._read_batch(ids):
                yield item

    async def _read_batch(self, ids: list[str]) -> list[Scanned]:
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for legacy_id in ids:
            pipe.get(self.prefix + legacy_id)
            pipe.pttl(self.prefix + legacy_id)
        replies = await pipe.execute()
        out: list[Scanned] = []
        for n, legacy_id in enumerate(ids):
            raw, ttl = replies[2 * n], replies[2 * n + 1]
            remaining = int(ttl) if isinstance(ttl, int) and ttl >= 0 else None
            try:
                found = None if raw is None else self._session(legacy_id, raw, remaining)
            except MigrationError as exc:
                out.append((legacy_id, exc))
                continue
            out.append((legacy_id, found))
        return out


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

    def _session(self, legacy_id: str, raw: bytes, remaining: int | None) -> LegacySession:
        """Its lifetime from starsessions' metadata, or else from the key's time-to-live."""
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

    def _session(self, legacy_id: str, raw: bytes, remaining: int | None) -> LegacySession:
        """Its expiry is the key's time-to-live (Flask-Session's own rule)."""
        return LegacySession(legacy_id, decode_flask_session(raw), _expiry(remaining))
