"""Reading framework settings (Flask's ``app.config``, Django's ``settings``) into config values.

Shared by the Flask and Django adapters, so both accept and refuse the same values with the
same messages, each naming the setting it came from.
"""

from __future__ import annotations

from datetime import timedelta

from sessionary.config import SameSite
from sessionary.exceptions import ConfigurationError

__all__ = ["samesite_setting", "seconds_setting"]

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
