"""Merging the session's :class:`ResponseUpdate` into a framework's header object.

For header objects with ``get``, item assignment and ``add`` (werkzeug's ``Headers``,
aiohttp's ``CIMultiDict``); ASGI and WSGI merge lists (:mod:`sessionary.sansio.headers`),
Django routes ``Set-Cookie`` through its cookie jar.
"""

from __future__ import annotations

from typing import Any

from sessionary.sansio.headers import header_changes
from sessionary.sansio.update import ResponseUpdate

__all__ = ["apply_update"]


def apply_update(update: ResponseUpdate, headers: Any) -> None:
    """Replace ``Cache-Control``/``Vary``/the token header, add ``Set-Cookie``.

    A ``Cache-Control`` default (a signed-in session) is set only where the application set
    none.
    """
    changes = header_changes(update, headers.get("Vary"))
    for name, value in changes.replace.items():
        headers[name] = value
    for name, value in changes.default.items():
        if name not in headers:
            headers[name] = value
    for name, value in changes.append:
        headers.add(name, value)
