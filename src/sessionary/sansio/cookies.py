"""Reading the session cookie from ``Cookie`` headers and rendering ``Set-Cookie``.

Reading follows docs/security.md R19-R26: several ``Cookie`` header lines are merged (HTTP/2 splits
them, R23); the name matches exactly and case-sensitively (R21); a value longer than the
cap is rejected before anything else looks at it (R20); repeated names with *different*
values are a conflict, never first-wins or last-wins (R22).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sessionary.config import CookieOptions
from sessionary.exceptions import SessionTooLargeError

__all__ = [
    "MAX_COOKIE_BYTES",
    "CookieRead",
    "CookieReadStatus",
    "read_cookie",
    "render_clear_cookie",
    "render_set_cookie",
]

MAX_COOKIE_BYTES = 4096  # name + value (RFC 6265bis §5.6)
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


class CookieReadStatus(enum.Enum):
    """What the request presented under the session cookie's name."""

    ABSENT = "absent"
    PRESENT = "present"
    OVERSIZE = "oversize"
    CONFLICT = "conflict"


@dataclass(slots=True)
class CookieRead:
    """Outcome of :func:`read_cookie`; ``value`` is set only when ``status`` is PRESENT."""

    status: CookieReadStatus
    value: str = ""

    def __repr__(self) -> str:
        return f"CookieRead({self.status.name})"


_ABSENT = CookieRead(CookieReadStatus.ABSENT)
_OVERSIZE = CookieRead(CookieReadStatus.OVERSIZE)
_CONFLICT = CookieRead(CookieReadStatus.CONFLICT)


def read_cookie(header_values: Iterable[str], name: str, max_length: int) -> CookieRead:
    """Find the cookie ``name`` across all ``Cookie`` header values."""
    found: str | None = None
    conflict = False
    oversize = False
    for header in header_values:
        if name not in header:  # fast path: most requests carry no session cookie
            continue
        for part in header.split(";"):
            key, sep, value = part.partition("=")
            if not sep or key.strip(" \t") != name:
                continue
            value = value.strip(" \t")
            if len(value) > max_length:
                oversize = True
                continue
            if found is None:
                found = value
            elif value != found:
                conflict = True
    if conflict:
        return _CONFLICT
    if oversize:
        # An oversize value next to a valid one is still an ambiguous request.
        return _CONFLICT if found is not None else _OVERSIZE
    if found is None:
        return _ABSENT
    return CookieRead(CookieReadStatus.PRESENT, found)


def _attributes(options: CookieOptions) -> str:
    parts = [f"Path={options.path}"]
    if options.domain is not None:
        parts.append(f"Domain={options.domain}")
    if options.secure:
        parts.append("Secure")
    parts.append("HttpOnly")
    parts.append(f"SameSite={_SAMESITE[options.samesite]}")
    if options.partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


def render_set_cookie(options: CookieOptions, value: str, max_age_s: int | None) -> str:
    """Render a ``Set-Cookie`` value; ``max_age_s=None`` makes a browser-session cookie.

    Raises :class:`~sessionary.exceptions.SessionTooLargeError` when name and value exceed
    4096 bytes (R13): an oversized cookie would be dropped silently by the browser.
    """
    size = len(options.name) + len(value.encode("utf-8"))
    if size > MAX_COOKIE_BYTES:
        raise SessionTooLargeError(size, MAX_COOKIE_BYTES)
    if max_age_s is None:
        return f"{options.name}={value}; {_attributes(options)}"
    return f"{options.name}={value}; Max-Age={max(0, max_age_s)}; {_attributes(options)}"


def render_clear_cookie(options: CookieOptions) -> str:
    """Render a ``Set-Cookie`` that deletes the cookie (same name, path and domain; R14)."""
    return (
        f"{options.name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; {_attributes(options)}"
    )
