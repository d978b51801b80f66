"""Reading framework settings (Flask's ``app.config``, Django's ``settings``) into config values.

Shared by the Flask and Django adapters, so both accept and refuse the same values with the
same messages, each naming the setting it came from.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sessionary.config import CookieOptions, SameSite
from sessionary.exceptions import ConfigurationError

__all__ = ["cookie_setting", "samesite_setting", "seconds_setting"]

_SAMESITE: dict[str, SameSite] = {"lax": "lax", "strict": "strict", "none": "none"}


def samesite_setting(value: object, name: str = "SESSION_COOKIE_SAMESITE") -> SameSite:
    """A framework's SameSite setting; unset (``None``/empty) keeps ``lax``."""
    samesite = _SAMESITE.get(str(value or "lax").lower())
    if samesite is None:
        msg = f"{name} must be 'Lax', 'Strict' or 'None', not {value!r}"
        raise ConfigurationError(msg)
    return samesite


def seconds_setting(value: object, name: str) -> float:
    """A duration setting given as seconds or a :class:`~datetime.timedelta`."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    msg = f"{name} must be seconds or a timedelta, not {value!r}"
    raise ConfigurationError(msg)


def cookie_setting(**options: Any) -> CookieOptions:
    """The cookie a framework's ``SESSION_COOKIE_*`` settings describe.

    A ``'__Host-'`` cookie (sessionary's name for the framework's default one) cannot take a
    domain, a path other than ``/`` or ``Secure`` off; the error names the setting to change.
    """
    try:
        return CookieOptions(**options)
    except ConfigurationError as exc:
        if "'__Host-' cookie" not in str(exc):
            raise
        msg = (
            f"{exc}: the session cookie is named {options.get('name')!r}; to scope it with "
            "SESSION_COOKIE_DOMAIN or SESSION_COOKIE_PATH (or send it without Secure), set "
            "SESSION_COOKIE_NAME to a name without the '__Host-' prefix (e.g. "
            "'__Secure-session', or 'session' for a cookie without Secure)"
        )
        raise ConfigurationError(msg) from exc
