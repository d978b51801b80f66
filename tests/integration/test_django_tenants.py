"""Tenants in the Django engine (docs/security.md R64, R66): ``SESSIONARY['TENANTS']``.

sessionary's Django middleware resolves the tenant from the ``Host`` header (a mapping or a
callable), answers 400 for a host without one, and binds it into every key: a session
created under tenant A is anonymous under tenant B, and user operations are tenant-scoped.
Runs through the sync and the async middleware, on every store kind.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncRequestFactory, Client, override_settings
from django.urls import path

from sessionary import ConfigurationError
from sessionary.integrations.django import (
    SessionMiddleware,
    SessionStore,
    get_runtime,
    get_session,
)
from sessionary.stores.base import SessionStore as SyncSessionStore
from sessionary.testing import session_config
from tests.conformance.drivers.django import MIDDLEWARE, configure_django

configure_django()

COOKIE = "__Host-session"
TENANTS = {"a.example.com": "a", "b.example.com": "b"}


def sign_in(request: HttpRequest) -> HttpResponse:
    session = get_session(request)
    session.login("ada")
    session["secret"] = request.META["HTTP_HOST"]
    return JsonResponse({"tenant": session.tenant})


def read(request: HttpRequest) -> HttpResponse:
    session = get_session(request)
    return JsonResponse({"data": dict(session.items()), "user": session.user_id})


def revoke(request: HttpRequest) -> HttpResponse:
    ended = get_runtime().manager.revoke_user("ada", tenant=get_session(request).tenant)
    return JsonResponse({"ended": ended})


urlpatterns = [path("login", sign_in), path("read", read), path("revoke", revoke)]


@pytest.fixture
def tenant_engine(sync_store: SyncSessionStore) -> Iterator[None]:
    with override_settings(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=MIDDLEWARE,
        ALLOWED_HOSTS=[".example.com"],
        SESSIONARY={"CONFIG": session_config(), "STORE": sync_store, "TENANTS": TENANTS},
    ):
        yield


def send(client: Client, url: str, host: str, token: str | None = None) -> Any:
    client.cookies = SimpleCookie({COOKIE: token} if token else {})
    return client.get(url, secure=True, HTTP_HOST=host)


def cookie_of(response: Any) -> str:
    return str(response.cookies[COOKIE].value)


def test_a_session_of_tenant_a_is_anonymous_under_tenant_b(tenant_engine: None) -> None:
    client = Client()
    created = send(client, "/login", "a.example.com")
    assert created.json() == {"tenant": "a"}
    token = cookie_of(created)
    own = send(client, "/read", "a.example.com", token)
    assert own.json() == {"data": {"secret": "a.example.com"}, "user": "ada"}
    other = send(client, "/read", "b.example.com", token)
    assert other.json() == {"data": {}, "user": None}
    unknown = send(client, "/read", "evil.example.com", token)
    assert (unknown.status_code, unknown.content) == (400, b"Bad Request")


def test_user_operations_are_tenant_scoped(tenant_engine: None) -> None:
    client = Client()
    in_a = cookie_of(send(client, "/login", "a.example.com"))
    in_b = cookie_of(send(client, "/login", "b.example.com"))
    assert send(client, "/revoke", "b.example.com", in_b).json() == {"ended": 1}
    assert send(client, "/read", "b.example.com", in_b).json()["user"] is None
    assert send(client, "/read", "a.example.com", in_a).json()["user"] == "ada"


async def async_read(request: HttpRequest) -> HttpResponse:
    session = get_session(request)
    if request.GET.get("login"):
        await session.aset("secret", request.META["HTTP_HOST"])
        session.login("ada")
    return JsonResponse({"data": dict(await session.aitems()), "user": session.user_id})


@pytest.mark.anyio
async def test_tenants_under_asgi(tenant_engine: None) -> None:
    """The async middleware path (``AsyncClient`` always sends ``Host: testserver`` too)."""
    middleware = SessionMiddleware(async_read)
    factory = AsyncRequestFactory()

    async def call(host: str, token: str | None = None, **query: str) -> Any:
        factory.cookies = SimpleCookie({COOKIE: token} if token else {})
        request = factory.get("/", query, secure=True)
        request.META["HTTP_HOST"] = host
        return await middleware(request)

    token = cookie_of(await call("a.example.com", login="1"))
    own = await call("a.example.com", token)
    assert json.loads(own.content) == {"data": {"secret": "a.example.com"}, "user": "ada"}
    other = await call("b.example.com", token)
    assert json.loads(other.content) == {"data": {}, "user": None}
    unknown = await call("evil.example.com", token)
    assert unknown.status_code == 400


def test_a_callable_resolver_and_sessions_built_without_the_middleware(
    sync_store: SyncSessionStore,
) -> None:
    with override_settings(
        SESSIONARY={"CONFIG": session_config(), "STORE": sync_store, "TENANTS": TENANTS.get}
    ):
        assert get_runtime().tenants is not None
        with pytest.raises(ConfigurationError, match="TENANTS"):
            SessionStore()  # no request, so no tenant: refused rather than guessed
        session = SessionStore(tenant="a")
        session["x"] = 1
        session.save()
        assert SessionStore(session.session_key, tenant="a")["x"] == 1
        assert SessionStore(session.session_key, tenant="b").get("x") is None


def test_with_tenants_user_operations_must_name_theirs(sync_store: SyncSessionStore) -> None:
    """``revoke_user("ada")`` without ``tenant=`` is an error, not the empty tenant's user."""
    with override_settings(
        SESSIONARY={"CONFIG": session_config(), "STORE": sync_store, "TENANTS": TENANTS}
    ):
        runtime = get_runtime()
        with pytest.raises(ConfigurationError, match="tenant="):
            runtime.manager.revoke_user("ada")
        assert runtime.manager.revoke_user("ada", tenant="a") == 0
        if runtime.async_manager is not None:  # the memory store's twin
            with pytest.raises(ConfigurationError, match="tenant="):
                asyncio.run(runtime.async_manager.count_user_sessions("ada"))
