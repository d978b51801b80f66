"""A minimal Django project in one module: the benchmark routes, with and without sessions.

Django's settings are process-global, so they are configured once, here; the two WSGI
handlers differ only in their middleware (``WSGIHandler`` reads ``MIDDLEWARE`` when it is
built). Sessions use ``django.contrib.sessions.backends.cache`` on Django's ``RedisCache``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import path

from benchmarks._variants import PROFILE, RACE_PAUSE_S, USER


def _session(request: HttpRequest) -> Any:
    return getattr(request, "session", None)


def anonymous(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


def read(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    return HttpResponse(b"ok" if session is None else str(session.get("count", 0)).encode())


def write(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    if session is None:
        return HttpResponse(b"ok")
    session["count"] = session.get("count", 0) + 1
    return HttpResponse(str(session["count"]).encode())


def login(request: HttpRequest) -> HttpResponse:
    session = _session(request)
    if session is not None:
        session.cycle_key()  # what django.contrib.auth.login does
        session["user"] = USER
        session["count"] = 0
        session["profile"] = PROFILE
    return HttpResponse(b"ok")


def race_write(request: HttpRequest) -> HttpResponse:
    session = request.session
    session.get("count")
    time.sleep(RACE_PAUSE_S)
    session[request.GET["k"]] = 1
    return HttpResponse(b"ok")


def race_logout(request: HttpRequest) -> HttpResponse:
    session = request.session
    session.get("count")
    time.sleep(RACE_PAUSE_S)
    session.flush()  # what django.contrib.auth.logout does
    return HttpResponse(b"ok")


def dump(request: HttpRequest) -> HttpResponse:
    return HttpResponse(",".join(sorted(request.session.keys())).encode())


def fill(request: HttpRequest) -> HttpResponse:
    request.session["data"] = "x" * int(request.GET["n"])
    return HttpResponse(b"ok")


urlpatterns = [
    path("anonymous", anonymous),
    path("read", read),
    path("write", write),
    path("login", login),
    path("race/write", race_write),
    path("race/logout", race_logout),
    path("dump", dump),
    path("fill", fill),
]


def applications(url: str, prefix: str) -> tuple[WSGIHandler, WSGIHandler]:
    """(Django without sessions, Django with cache-backed sessions on Redis)."""
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY=secrets.token_hex(32),
            ALLOWED_HOSTS=["bench"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.sessions"],
            MIDDLEWARE=[],
            USE_TZ=True,
            SESSION_ENGINE="django.contrib.sessions.backends.cache",
            SESSION_COOKIE_SECURE=True,
            CACHES={
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": url,
                    "KEY_PREFIX": prefix,
                }
            },
        )
        django.setup()
    settings.MIDDLEWARE = []
    baseline = WSGIHandler()
    settings.MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
    with_sessions = WSGIHandler()
    return baseline, with_sessions
