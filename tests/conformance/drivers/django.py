"""Conformance driver: the standard application as Django views behind sessionary's middleware.

Django's settings can be configured only once per process, so :func:`configure_django` holds
the settings of every Django test here (``tests/integration/test_django.py`` imports it);
each driver or test swaps in its URLconf, store and configuration with ``override_settings``
(sessionary's engine starts afresh when ``SESSIONARY`` changes).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.cookies import SimpleCookie
from typing import Any

import django
from django.conf import settings

from tests.conformance import driver as conformance
from tests.conformance.driver import FAILED_STATUS, failing_view, own_headers
from tests.conformance.drivers.wsgi import standard_view, sync_store

MIDDLEWARE = [
    "sessionary.integrations.django.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def configure_django() -> None:
    """Configure Django for this test process (once) and set it up."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=["testserver", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
        ],
        # A named in-memory database shared by the threads of this process.
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": "file:sessionary-django-tests?mode=memory&cache=shared",
            }
        },
        MIDDLEWARE=MIDDLEWARE,
        SESSION_ENGINE="sessionary.integrations.django",
        SESSION_COOKIE_NAME="__Host-session",  # what Django's test client writes
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()


configure_django()

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from sessionary.integrations.django import csrf_token, get_session  # noqa: E402


def django_view(request: HttpRequest, name: str) -> HttpResponse:
    """Every route of the standard application (shared by the sync and async drivers).

    ``/json`` and the failing routes use ``request.session`` (Django's API); the others
    sessionary's ``Session``.
    """
    path = f"/{name}"
    if path == "/json":
        return JsonResponse(dict(request.session))
    query = request.GET.dict()
    result = failing_view(path, query, request.session)
    if result is None:
        result = standard_view(
            path, query, lambda: get_session(request).sessionary, lambda: csrf_token(request)
        )
    if result is None:
        raise Http404
    return JsonResponse(result, status=FAILED_STATUS.get(path, 200), headers=own_headers(query))


def standard(request: HttpRequest, name: str) -> HttpResponse:
    """The standard application as a sync view."""
    return django_view(request, name)


urlpatterns = [path("<str:name>", standard)]
HOSTS = {"ALLOWED_HOSTS": ["*"]}
"""The tenants feature sends other ``Host`` headers."""


def client_arguments(request: conformance.Request) -> dict[str, Any]:
    """Django's test client's ``generic()`` arguments for ``request``."""
    content_type = request.header("content-type") or "application/octet-stream"
    return {
        "data": request.body,
        "content_type": content_type,
        "secure": request.scheme != "http",
        "headers": client_headers(request.headers),
    }


def client_headers(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Request headers for Django's test client; repeated ones joined as a server would."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key == "content-type":
            continue  # the content_type argument
        if key in joined:
            joined[key] += ("; " if key == "cookie" else ", ") + value
        else:
            joined[key] = value
    return joined


def reply_of(response: Any) -> conformance.Reply:
    """A Django test response as a :class:`conformance.Reply` (cookies included)."""
    headers = list(response.items())
    headers += [("Set-Cookie", morsel.OutputString()) for morsel in response.cookies.values()]
    return conformance.Reply(
        response.status_code, conformance.normalise_headers(headers), response.content
    )


class DjangoDriver(conformance.ThreadedDriver):
    """Django's test client, one per thread, its cookie jar emptied before every request."""

    name = "django"

    def __init__(self) -> None:
        self._local = threading.local()

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = Client(raise_request_exception=False)
        client.cookies = SimpleCookie()
        return client

    def request(self, request: conformance.Request) -> conformance.Reply:
        """Send one request."""
        response = self._client().generic(request.method, request.path, **client_arguments(request))
        return reply_of(response)


@contextmanager
def make_driver(spec: conformance.AppSpec) -> Iterator[conformance.Driver]:
    """The standard application as Django views, on the spec's store and configuration."""
    store = sync_store(spec)
    sessionary = {"CONFIG": spec.config, "STORE": store, **spec.django_settings()}
    try:
        with override_settings(
            ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, SESSIONARY=sessionary, **HOSTS
        ):
            yield DjangoDriver()
    finally:
        store.close()
