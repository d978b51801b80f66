"""Django: a session engine and middleware (needs ``pip install 'sessionary[django]'``).

Settings::

    SESSION_ENGINE = "sessionary.integrations.django"
    MIDDLEWARE = [
        ...,
        "sessionary.integrations.django.SessionMiddleware",  # instead of Django's
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        ...,
    ]
    SESSIONARY = {"STORE_URL": "redis://localhost:6379/0"}  # default: "memory"

Design: sessionary's middleware runs the request/response cycle exactly as the ASGI and WSGI
adapters do (one store round trip to read, one to commit, field deltas, rotation, logout that
cannot be undone), and ``request.session`` is a :class:`SessionStore`, Django's ``SessionBase``
implemented over that cycle. So ``django.contrib.auth.login()`` (which calls ``cycle_key()``)
rotates the ID like ``session.login()`` does, ``logout()`` (``flush()``) destroys the record
and clears the cookie, and a session written by Starlette, Flask or aiohttp with the same
store and configuration is the same session here (same cookie, same record). Django's own
``SessionMiddleware`` also works with this engine, but then Django renders the cookie; prefer
sessionary's.

Differences from Django's database engine, all deliberate: an empty session is never saved
(no record and no cookie for anonymous visitors: SECURITY.md R7); expiry is enforced by the
store (idle and absolute timeouts), so ``clear_expired()`` and ``clearsessions`` have nothing
to do; ``set_expiry()`` is honoured for the cookie and checked on load, within the absolute
timeout. Configuration comes from ``settings.SESSIONARY`` (see
:func:`sessionary.integrations.django.conf.config_from_settings`).
"""

from __future__ import annotations

try:
    import django  # noqa: F401 - fail early with the extra's name
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.django needs Django: pip install 'sessionary[django]'"
    raise ImportError(msg) from exc

from sessionary.integrations.django.conf import configure, get_manager
from sessionary.integrations.django.middleware import SessionMiddleware
from sessionary.integrations.django.store import SessionStore

__all__ = ["SessionMiddleware", "SessionStore", "configure", "get_manager"]
