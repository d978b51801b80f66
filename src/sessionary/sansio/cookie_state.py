"""What a sealed cookie session keeps in its revocation store: a floor per session.

A sealed cookie (:mod:`sessionary.sansio.sealed_flow`) carries its session's random ID
(``sid``, 16 bytes, never shown) and a *pin*: the time of the last state change the
application said must not be rolled back — a login, ``reauthenticate()``, ``rotate()`` or
``elevate()``. The revocation store keeps one number per pinned session, its *floor*: a
cookie whose pin is below it is a copy taken before that change and is refused, and a
logout sets it to :data:`PIN_ENDED`, which no cookie reaches. The floor only ever rises
(concurrent requests cannot lower it), and it is kept for one absolute timeout, after which
every cookie it could refuse has expired anyway.

With a revocation store the sealed flow asks for two operations, driven like any other
(``SessionCycle.next_op()``):

* :class:`ReadCookieState` on every request carrying a sealed cookie: the session's floor
  and, for an authenticated cookie, its user's epoch — together, in one round trip where
  the store allows it (memory; ``MGET`` on Redis without Cluster);
* :class:`PinCookie` in the response of a login, rotation or logout, before the new cookie
  (or the clearing one) goes out. If it fails, the response is refused (503) and no cookie
  is sent.

Store keys are unkeyed hashes of the session ID (:meth:`KeyRing.cookie_key
<sessionary.sansio.keys.KeyRing.cookie_key>`): the ID is random and secret (it travels only
inside the sealed cookie), so the key reveals nothing, and it is the same under every key
ring.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PIN_ENDED", "CookieState", "PinCookie", "ReadCookieState", "is_superseded"]

PIN_ENDED = 2**53 - 1
"""The floor of a logged-out session: above every pin (and exact as a Lua number)."""


@dataclass(frozen=True, slots=True)
class ReadCookieState:
    """Read a cookie session's floor and (authenticated) its user's epoch.

    Both in one round trip where the store can; an absent floor or epoch reads as ``None``.
    """

    cookie_key: str
    """The session's key (:meth:`~sessionary.sansio.keys.KeyRing.cookie_key`)."""
    user_key: str | None
    """The user's index tag for an authenticated cookie, else ``None`` (no epoch read)."""
    now: int
    """The core's time (ms): a store judging expiry itself uses it."""


@dataclass(frozen=True, slots=True)
class CookieState:
    """The answer to :class:`ReadCookieState`."""

    floor: int | None
    epoch: int | None


@dataclass(frozen=True, slots=True)
class PinCookie:
    """Raise a cookie session's floor to at least ``floor`` (never lower it).

    Kept ``ttl_ms`` from ``now`` at least (a longer time already set is kept). Idempotent;
    the store answers with the floor it now holds.
    """

    cookie_key: str
    floor: int
    now: int
    ttl_ms: int


def is_superseded(pin: int, floor: int | None) -> bool:
    """Whether a cookie pinned at ``pin`` predates its session's ``floor``."""
    return floor is not None and pin < floor
