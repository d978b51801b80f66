"""``CookieStore``: client-side sessions sealed in the cookie (AES-256-GCM).

Pass it where a store goes — to a manager or any adapter — and the whole session travels in
the session cookie, sealed under the ``cookie-seal`` subkeys of ``SessionConfig.secret_keys``
(seal with the newest, open with any, re-seal after a rotation)::

    app.add_middleware(SessionMiddleware, store=CookieStore(), config=config)

It moves no bytes by key: the manager recognises it and drives the sans-IO core in its
client-side mode (:class:`~sessionary.sansio.sealed_cycle.SealedCycle`), so no store call is
ever made. The cookie, name included, must fit 4096 bytes
(:class:`~sessionary.exceptions.CookieTooLargeError` otherwise).

**Logout cannot revoke a copied cookie.** Without a server-side record, a copy of the cookie
taken before logout stays valid until its idle or absolute timeout. Use a server-side store
when that matters (authenticated sessions, SECURITY.md R55); creating a ``CookieStore``
without a revocation store logs a warning saying so.

``CookieStore(revocation=store)`` — any store that keeps per-user epochs (the memory and
Redis stores, of the manager's flavour) — makes ``manager.revoke_user(user)`` ("log out
everywhere", account disabled) end cookie sessions too: every request carrying an
authenticated cookie reads the user's epoch (one small read) and a cookie sealed at a login
older than the epoch is anonymous from then on. A single device's logout still cannot revoke
a copy of its cookie.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["CookieStore"]

_logger = logging.getLogger("sessionary")


class CookieStore:
    """Selects client-side (sealed cookie) sessions. Works with sync and async managers."""

    __slots__ = ("revocation",)

    def __init__(self, *, revocation: Any = None) -> None:
        self.revocation = revocation
        """A store keeping per-user epochs (checked by the manager), or ``None``."""
        if revocation is None:
            _logger.warning(
                "sessionary: CookieStore keeps sessions in the client; logout cannot revoke a "
                "copied cookie before its idle or absolute timeout"
            )

    def __repr__(self) -> str:
        return f"CookieStore(revocation={self.revocation!r})"

    async def aclose(self) -> None:
        """Nothing to release."""

    def close(self) -> None:
        """Nothing to release."""
