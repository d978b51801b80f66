"""Legacy source: Starlette's signed-cookie ``SessionMiddleware`` (itsdangerous, old secret).

The whole session lives in the cookie, signed with ``TimestampSigner(secret_key)``; there is
no server record. The legacy "ID" is the signed cookie value itself (so each issued cookie
migrates to one sessionary session), and ``delete`` has nothing to delete: a copy of the old
cookie stays valid for the old middleware's ``max_age`` and is migrated again if replayed
after the migrated session ended. Keep the migration window short (docs/migration.md).
"""

from __future__ import annotations

from itsdangerous import BadSignature, TimestampSigner

from sessionary.backends.legacy.formats import decode_starlette_cookie
from sessionary.exceptions import MigrationError
from sessionary.sansio.migration import LegacySession

__all__ = ["AsyncStarletteCookieSource"]

_FOURTEEN_DAYS_S = 14 * 24 * 3600


class AsyncStarletteCookieSource:
    """Sessions of ``starlette.middleware.sessions.SessionMiddleware``.

    ``secret_key`` is the middleware's old secret; ``cookie_name`` and ``max_age`` its
    ``session_cookie`` and ``max_age`` (Starlette's defaults: ``"session"``, 14 days).
    """

    name = "starlette-cookie"

    def __init__(
        self,
        secret_key: str,
        *,
        cookie_name: str = "session",
        max_age: int = _FOURTEEN_DAYS_S,
    ) -> None:
        self._signer = TimestampSigner(str(secret_key))
        self.cookie_name = cookie_name
        self.max_age = max_age

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cookie_name={self.cookie_name!r})"

    def identify(self, cookie_value: str) -> str | None:
        """The cookie itself when its signature verifies and it is younger than ``max_age``."""
        try:
            self._signer.unsign(cookie_value, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        return cookie_value

    async def read(self, legacy_id: str) -> LegacySession | None:
        """The cookie's data; it expires ``max_age`` after it was signed."""
        try:
            payload, signed_at = self._signer.unsign(
                legacy_id, max_age=self.max_age, return_timestamp=True
            )
        except BadSignature:
            return None
        try:
            data = decode_starlette_cookie(payload)
        except MigrationError:
            raise
        expires_at = int((signed_at.timestamp() + self.max_age) * 1000)
        return LegacySession(legacy_id, data, expires_at)

    async def delete(self, legacy_id: str) -> None:
        """Nothing to delete: the session lived in the cookie only."""
        del legacy_id
