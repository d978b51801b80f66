"""Header transport: the session ID in a request header instead of a cookie (R16, R17).

For API clients and mobile apps, a mount may carry the ID in ``X-Session-Token: <id>`` (or
any configured header) or in ``Authorization: Session <id>``. The same rules as for cookies
apply (SECURITY.md §C): the length cap is checked first, several values that differ are a
conflict and neither wins, and other ``Authorization`` schemes (``Bearer`` …) are not ours
and are ignored. A mount uses exactly one transport; the cycle never looks at the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessionary.sansio.cookies import CookieRead, CookieReadStatus

__all__ = ["AUTHORIZATION_SCHEME", "read_header_token"]

AUTHORIZATION_SCHEME = "Session"
_SCHEME_LOWER = AUTHORIZATION_SCHEME.lower()
_ABSENT = CookieRead(CookieReadStatus.ABSENT)
_OVERSIZE = CookieRead(CookieReadStatus.OVERSIZE)
_CONFLICT = CookieRead(CookieReadStatus.CONFLICT)


def _token_of(value: str, *, authorization: bool) -> str | None:
    value = value.strip(" \t")
    if authorization:
        scheme, _, rest = value.partition(" ")
        if scheme.lower() != _SCHEME_LOWER:
            return None
        value = rest.strip(" \t")
    return value or None


def read_header_token(
    header_values: Iterable[str], *, authorization: bool, max_length: int
) -> CookieRead:
    """Find the session ID among the values of the configured request header.

    ``authorization=True`` reads ``Authorization: Session <id>`` values. The outcome uses the
    same statuses as cookie reading (absent, present, oversize, conflict).
    """
    found: str | None = None
    conflict = False
    oversize = False
    for header in header_values:
        if len(header) > max_length + len(AUTHORIZATION_SCHEME) + 8:
            oversize = True  # cap first (R20): no parsing of attacker-sized values
            continue
        token = _token_of(header, authorization=authorization)
        if token is None:
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
