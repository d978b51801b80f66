"""Django's per-session expiry (``set_expiry``) within sessionary's idle and absolute timeouts.

Django keeps a custom expiry in the session itself, under ``_session_expiry``: ``0`` (until
the browser closes), a number of seconds, or an ISO date. sessionary's timeouts stay in force
(a custom expiry can shorten a session, never lengthen it):

* a date ends the session: the first access after it finds the session expired (destroyed,
  cookie cleared), as sessionary's own timeouts do;
* whenever the response issues a cookie (creation, login, rotation), its ``Max-Age`` follows
  the custom expiry: none for ``0``, at most the seconds or the time left until the date.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["EXPIRY_KEY", "deadline_of", "shape_cookie"]

EXPIRY_KEY = "_session_expiry"
"""Where Django's ``SessionBase.set_expiry`` keeps a custom expiry."""


def deadline_of(expiry: object) -> float | None:
    """The instant (seconds since the epoch) a date-valued custom expiry ends the session."""
    if isinstance(expiry, str):
        try:
            expiry = datetime.fromisoformat(expiry)
        except ValueError:
            return None
    if isinstance(expiry, datetime):
        return expiry.timestamp()
    return None


_UNCHANGED = -1


def _max_age(expiry: object, now: float) -> int | None:
    """Seconds for ``Max-Age``, ``None`` for a browser-session cookie, or ``_UNCHANGED``."""
    if isinstance(expiry, bool):
        return _UNCHANGED
    if isinstance(expiry, int):
        return expiry if expiry > 0 else None
    deadline = deadline_of(expiry)
    if deadline is None:
        return _UNCHANGED
    return max(0, int(deadline - now))


def shape_cookie(set_cookie: str, expiry: object, *, now: float, cap: int) -> str:
    """``set_cookie`` with its lifetime following a custom expiry (never beyond ``Max-Age``).

    ``cap`` bounds the result when ``set_cookie`` has no ``Max-Age`` (a browser-session
    cookie under ``SESSION_EXPIRE_AT_BROWSER_CLOSE`` turned persistent by ``set_expiry``).
    """
    max_age = _max_age(expiry, now)
    if max_age == _UNCHANGED:
        return set_cookie
    parts = set_cookie.split("; ")
    kept = [p for p in parts if not p.lower().startswith("max-age=")]
    if max_age is not None:
        current = [int(p[8:]) for p in parts if p.lower().startswith("max-age=")]
        kept.insert(1, f"Max-Age={min(max_age, *current, cap)}")
    return "; ".join(kept)
