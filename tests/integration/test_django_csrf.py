"""Django keeps its own CSRF protection; with ``CSRF_USE_SESSIONS`` its secret lives in the
sessionary session and is rotated by ``django.contrib.auth.login`` (docs/security.md, §K)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth import authenticate, login
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.test import Client, override_settings
from django.urls import path

from sessionary.stores import MemoryStore
from sessionary.testing import session_config
from tests.conformance.drivers.django import configure_django

configure_django()

if TYPE_CHECKING:
    from django.contrib.auth.models import User

COOKIE = "__Host-session"
PASSWORD = "correct horse"
ORIGIN = {"Origin": "https://testserver"}


def form(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"token": get_token(request)})


def submit(request: HttpRequest) -> HttpResponse:
    request.session["posted"] = True
    return JsonResponse({"ok": True})


def sign_in(request: HttpRequest) -> HttpResponse:
    user = authenticate(request, username=request.GET["user"], password=PASSWORD)
    assert user is not None
    login(request, user)  # rotates the session ID and Django's CSRF secret
    return JsonResponse({"ok": True})


urlpatterns = [path("form", form), path("submit", submit), path("login", sign_in)]


@pytest.fixture
def user() -> User:
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth.models import User  # noqa: PLC0415 - needs configured settings

    created: User = User.objects.create_user(f"u-{uuid.uuid4().hex[:8]}", password=PASSWORD)
    return created


@pytest.fixture
def client() -> Iterator[Client]:
    store = MemoryStore()
    settings = {
        "ROOT_URLCONF": __name__,
        "MIDDLEWARE": [
            "sessionary.integrations.django.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        "CSRF_USE_SESSIONS": True,
        "SESSIONARY": {"CONFIG": session_config(), "STORE": store},
    }
    with override_settings(**settings):
        yield Client(enforce_csrf_checks=True)
    store.close()


def send(client: Client, method: str, url: str, cookie: str | None, **headers: str) -> Any:
    client.cookies = SimpleCookie({COOKIE: cookie} if cookie else {})
    return client.generic(method, url, secure=True, headers={**ORIGIN, **headers})


def test_django_csrf_with_sessions_stores_and_rotates_its_secret(
    client: Client, user: User
) -> None:
    first = send(client, "GET", "/form", None)
    cookie = first.cookies[COOKIE].value
    token = first.json()["token"]
    assert "csrftoken" not in first.cookies  # the secret is in the session, not a cookie
    assert send(client, "POST", "/submit", cookie).status_code == 403
    assert send(client, "POST", "/submit", cookie, X_CSRFToken=token).status_code == 200
    signed_in = send(client, "POST", f"/login?user={user.username}", cookie, X_CSRFToken=token)
    assert signed_in.status_code == 200
    rotated = signed_in.cookies[COOKIE].value
    assert rotated != cookie
    assert send(client, "POST", "/submit", rotated, X_CSRFToken=token).status_code == 403
    fresh = send(client, "GET", "/form", rotated).json()["token"]
    assert send(client, "POST", "/submit", rotated, X_CSRFToken=fresh).status_code == 200
