"""Header transport: the session ID in a request header instead of a cookie (R16, R17).

For API clients and mobile apps, a mount may carry the ID in ``X-Session-Token: <id>`` (or
any configured header) or in ``Authorization: Session <id>``. The same rules as for cookies
apply (docs/security.md R19-R26): the length cap is checked before any parsing, several values that
differ are a conflict and neither wins. In ``Authorization`` the scheme is read first, from a
bounded prefix: other schemes (``Bearer`` …) are not ours and are ignored silently, whatever
their length (no event, no response header). A mount uses exactly one transport; the cycle
never looks at the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessionary.sansio.cookies import CookieRead, CookieReadStatus

__all__ = ["AUTHORIZATION_SCHEME", "read_header_token"]

AUTHORIZATION_SCHEME = "Session"
_SCHEME_LOWER = AUTHORIZATION_SCHEME.lower()
_SCHEME_WINDOW = 32
"""``Authorization`` characters looked at to find the scheme (leading whitespace included)."""
_SLACK = 16
"""Whitespace allowed around an ID beyond ``max_length``."""
_ABSENT = CookieRead(CookieReadStatus.ABSENT)
_OVERSIZE = CookieRead(CookieReadStatus.OVERSIZE)
_CONFLICT = CookieRead(CookieReadStatus.CONFLICT)


def _credentials(value: str) -> str | None:
    """The part after ``Session`` in an ``Authorization`` value; ``None`` for other schemes.

    Only the first :data:`_SCHEME_WINDOW` characters are looked at, so a long credential of
    another scheme (a ``Bearer`` JWT is often several hundred characters) costs O(1) and is
    ignored, as documented, instead of being taken for an oversize session ID.
    """
    window = value[:_SCHEME_WINDOW]
    head = window.lstrip(" \t")
    end = len(_SCHEME_LOWER)
    if head[:end].lower() != _SCHEME_LOWER or head[end : end + 1] not in (" ", "\t"):
        return None
    return value[len(window) - len(head) + end :]


def read_header_token(
    header_values: Iterable[str], *, authorization: bool, max_length: int
) -> CookieRead:
    """Find the session ID among the values of the configured request header.

    ``authorization=True`` reads ``Authorization: Session <id>`` values and ignores every other
    scheme. The outcome uses the same statuses as cookie reading (absent, present, oversize,
    conflict).
    """
    found: str | None = None
    conflict = False
    oversize = False
    for header in header_values:
        value = _credentials(header) if authorization else header
        if value is None:
            continue  # the scheme first: other schemes are not ours
        if len(value) > max_length + _SLACK:
            oversize = True  # cap before any parsing (R20)
            continue
        token = value.strip(" \t")
        if not token:
            continue
        if len(token) > max_length:
            oversize = True
        elif found is None:
            found = token
        elif token != found:
            conflict = True
    if conflict or (oversize and found is not None):
        return _CONFLICT
    if oversize:
        return _OVERSIZE
    if found is None:
        return _ABSENT
    return CookieRead(CookieReadStatus.PRESENT, found)
