"""``CookieStore``: client-side sessions sealed in the cookie (AES-256-GCM).

Pass it where a store goes — to a manager or any adapter — and the whole session travels in
the session cookie, sealed under the ``cookie-seal`` subkeys of ``SessionConfig.secret_keys``
(seal with the newest, open with any, re-seal after a rotation)::

    app.add_middleware(SessionMiddleware, store=CookieStore(), config=config)

It is not a store but a storage mode (:class:`~sessionary.sansio.modes.SealedMode`): the
core follows its sealed flow (:mod:`sessionary.sansio.sealed_flow`), so no store call is
ever made but the revocation store's. The cookie, name included, must fit 4096 bytes
(:class:`~sessionary.exceptions.CookieTooLargeError` otherwise).

**Without a revocation store, nothing revokes a copied cookie.** A copy of the cookie taken
before a logout, a login, a rotation or any write stays valid until its idle or absolute
timeout, and replaying an older cookie brings back the state it holds (a role the
application removed). Use a revocation store, or a server-side store, for authenticated
sessions (docs/security.md R55); creating a ``CookieStore`` without a revocation store logs a
warning saying so.

``CookieStore(revocation=store)`` — any store that keeps per-user epochs and cookie floors
(the memory and Redis stores, of the manager's flavour) — adds, for one small read per
request carrying a cookie (the session's floor, and for an authenticated cookie its user's
epoch in the same round trip; two keys read at once on a Redis Cluster):

* a logout ends every copy of the session's cookie;
* a login, ``reauthenticate()``, ``rotate()`` or ``elevate()`` supersedes every earlier
  cookie of the session: call ``session.rotate()`` with any change that must not be rolled
  back. It costs one more write, before the new cookie goes out (refused with a 503 if the
  store cannot take it);
* ``manager.revoke_user(user)`` ("log out everywhere", account disabled) ends every cookie
  sealed at a login of that user before it.

What it does not do: a write without a rotation does not supersede anything, so a copy taken
after the last rotation can still bring back the state it holds. A revocation store that is
down fails closed. (See :mod:`sessionary.sansio.cookie_state`.)
"""

from __future__ import annotations

from sessionary.sansio.modes import SealedMode

__all__ = ["CookieStore"]


class CookieStore(SealedMode):
    """Selects client-side (sealed cookie) sessions. Works with sync and async managers.

    ``revocation``: a store keeping per-user epochs and cookie floors (see the module).
    """

    __slots__ = ()
