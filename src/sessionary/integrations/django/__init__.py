"""Django: a session engine and its middleware (needs ``pip install 'sessionary[django]'``).

Settings::

    SESSION_ENGINE = "sessionary.integrations.django"
    MIDDLEWARE = [
        ...,
        "sessionary.integrations.django.SessionMiddleware",  # in place of Django's
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        ...,
    ]
    SESSIONARY = {"STORE_URL": os.environ.get("SESSIONARY_STORE", "memory")}

``request.session`` keeps Django's API (``SessionBase``: ``get``, ``pop``, ``setdefault``,
``cycle_key``, ``flush``, ``set_expiry``, the ``a*`` coroutines...) and
``django.contrib.auth`` works unchanged. :func:`get_session` returns it typed, with
sessionary's ``login``, ``logout``, ``rotate`` and ``user_id`` on top. The options of
``settings.SESSIONARY`` are listed in :mod:`sessionary.integrations.django.conf`.

Design: sessionary's own middleware runs the request cycle exactly as the ASGI and WSGI
adapters do: no ID, no store call; an ID, one round trip before the view; at most one
write after it, with per-field deltas; rotation and a logout that cannot be undone. The
``SessionStore`` (Django's ``SessionBase`` contract) is a view over that cycle, so
``auth.login()`` → ``cycle_key()`` is sessionary's rotation and is committed together with
the user's fields in one write (and the user is recorded as sessionary's ``user_id``), and
``auth.logout()`` → ``flush()`` destroys the record and clears the cookie. The cookie value
is sessionary's 43-character ID, so a session started by Starlette, Flask or aiohttp on the
same store and configuration is the same session here (same cookie, same record). The
middleware is sync- and async-capable: under ASGI it awaits the async store.

Django's own ``SessionMiddleware`` works with this engine too, with Django rendering the
cookie (its attributes, no ``Cache-Control: no-store``) and every ``cycle_key()``/``flush()``
taking effect at once: prefer sessionary's. Differences from Django's engines:

* an empty session is never stored (no record, no key, no cookie for anonymous visitors:
  docs/security.md R7), so ``save()`` of an empty session leaves ``session_key`` ``None``; for
  tests, set ``SESSION_COOKIE_NAME = "__Host-session"`` explicitly and use
  ``Client.force_login()`` (``Client.session`` saves an empty session to get a key);
* expiry: sessionary's idle and absolute timeouts are enforced by the store (Redis TTLs,
  the memory store's clock), so ``clear_expired()``/``manage.py clearsessions`` has nothing
  to do with Redis and sweeps the memory store. ``set_expiry()`` can only shorten a session:
  a date ends it, ``0`` or a number shape the cookie's ``Max-Age`` when it is issued
  (:mod:`sessionary.integrations.django.expiry`);
* ``SESSION_SAVE_EVERY_REQUEST`` and ``SESSION_SERIALIZER`` do not apply (sessionary
  touches on read and stores each value with its codec).

The request options are every adapter's, as ``SESSIONARY`` keys (``TENANTS``, ``LOCK``,
``STORE_DOWN``, ``COMMIT_ON_ERROR``, and ``CSRF``: sessionary's checks are opt-in here, Django's
``CsrfViewMiddleware`` stays the default; :func:`csrf_token` gives sessionary's token). A
store outage answers 503 only to requests whose view touches the session, without a
``Set-Cookie``. A failed request (a 5xx) commits only a logout or a rotation, which its 500
carries (``SESSIONARY["COMMIT_ON_ERROR"] = True``: everything); a ``flush()`` while a
``StreamingHttpResponse`` is sent ends the stored session once the body is over.
"""

from __future__ import annotations

try:
    import django  # noqa: F401 - fail early, naming the extra
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.django needs Django: pip install 'sessionary[django]'"
    raise ImportError(msg) from exc

from typing import Any

from sessionary.exceptions import ConfigurationError
from sessionary.integrations._csrf import CONTEXT_KEY, find_context
from sessionary.integrations.django.conf import config_from_settings, get_runtime, reset_runtime
from sessionary.integrations.django.middleware import SessionMiddleware
from sessionary.integrations.django.store import SessionStore

__all__ = [
    "SessionMiddleware",
    "SessionStore",
    "config_from_settings",
    "csrf_token",
    "get_runtime",
    "get_session",
    "reset_runtime",
]


def get_session(request: Any) -> SessionStore:
    """``request.session``, typed (it must come from this engine)."""
    session = getattr(request, "session", None)
    if not isinstance(session, SessionStore):
        msg = "request.session is not a sessionary session: is SESSION_ENGINE set?"
        raise ConfigurationError(msg)
    return session


def csrf_token(request: Any) -> str:
    """A masked CSRF token for this response (``SESSIONARY["CSRF"] = True``).

    For sessionary's own CSRF checks; with Django's ``CsrfViewMiddleware`` use
    ``django.middleware.csrf.get_token`` as usual.
    """
    meta = getattr(request, "META", {})
    return find_context(meta, CONTEXT_KEY, "set SESSIONARY['CSRF'] = True").token()
