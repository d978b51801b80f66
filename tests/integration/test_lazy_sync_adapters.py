"""Lazy loading in the sync adapters (WSGI, Flask, Django) on a real Redis, round trips counted.

With ``lazy=True`` (Django: ``SESSIONARY["LAZY"]``) a signed-in request whose view never uses
the session makes no store call; a view that reads it makes one round trip (the hash and its
user's epoch in one write), one that writes it two. Without it the untouched route loads too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient as AsyncDjangoClient
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import path
from flask import Flask, session
from werkzeug.test import Client

from sessionary.integrations.django import SessionStore as DjangoSession
from sessionary.integrations.flask import Sessionary
from sessionary.integrations.wsgi import SessionMiddleware, StartResponse, get_session
from sessionary.stores import RedisStore
from sessionary.testing import session_config
from tests.conformance.drivers.django import MIDDLEWARE, configure_django
from tests.redis_counting import CountingRedis, counted_store

configure_django()

BASE = "https://localhost"


@pytest.fixture
def counting(redis_url: str, key_prefix: str) -> Iterator[tuple[RedisStore, CountingRedis]]:
    """A sync Redis store (generated code) and its counting client."""
    with counted_store(redis_url, key_prefix) as pair:
        yield pair


def trips(client: CountingRedis, request: Callable[[], Any]) -> tuple[Any, int]:
    """The reply of ``request`` and how many round trips it cost the store."""
    client.round_trips = 0
    reply = request()
    return reply, client.round_trips


# ------------------------------------------------------------------------------ WSGI
def wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    route = environ["PATH_INFO"]
    body = b"ok"
    if route == "/login":
        get_session(environ).login("u1")
        get_session(environ)["n"] = 1
    elif route == "/read":
        body = str(get_session(environ)["n"]).encode()
    elif route == "/write":
        get_session(environ)["n"] += 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


@pytest.mark.parametrize("lazy", [True, False])
def test_wsgi_loads_only_for_routes_that_ask(
    counting: tuple[RedisStore, CountingRedis], lazy: bool
) -> None:
    store, client = counting
    app = Client(SessionMiddleware(wsgi_app, store=store, config=session_config(), lazy=lazy))
    assert app.post("/login", base_url=BASE).status_code == 200
    reply, count = trips(client, lambda: app.get("/untouched", base_url=BASE))
    assert (reply.get_data(), count) == (b"ok", 0 if lazy else 1)
    assert "Set-Cookie" not in reply.headers
    assert "Vary" not in reply.headers  # the response did not depend on it
    reply, count = trips(client, lambda: app.get("/read", base_url=BASE))
    assert (reply.get_data(), count) == (b"1", 1)
    reply, count = trips(client, lambda: app.post("/write", base_url=BASE))
    assert (reply.status_code, count) == (200, 2)
    assert app.get("/read", base_url=BASE).get_data() == b"2"


# ------------------------------------------------------------------------------ Flask
def flask_app(store: RedisStore, *, lazy: bool) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "Zk8wQ3rT6yUi9oPa2sDf5gHj7kLz0xCv4bNm1qWe"
    Sessionary(app, store=store, config=session_config(), lazy=lazy)

    @app.post("/login")
    def login() -> str:
        session.login("u1")  # type: ignore[attr-defined]
        session["n"] = 1
        return "ok"

    @app.get("/untouched")
    def untouched() -> str:
        return "ok"

    @app.get("/read")
    def read() -> str:
        first = session["n"]
        assert session.get("n") == first  # a second use does not load again
        return str(first)

    @app.post("/write")
    def write() -> str:
        session["n"] += 1
        return "ok"

    return app


@pytest.mark.parametrize("lazy", [True, False])
def test_flask_loads_only_for_views_that_use_the_session(
    counting: tuple[RedisStore, CountingRedis], lazy: bool
) -> None:
    store, client = counting
    app = flask_app(store, lazy=lazy).test_client()
    assert app.post("/login", base_url=BASE).status_code == 200
    reply, count = trips(client, lambda: app.get("/untouched", base_url=BASE))
    assert (reply.get_data(), count) == (b"ok", 0 if lazy else 1)
    assert "Set-Cookie" not in reply.headers
    reply, count = trips(client, lambda: app.get("/read", base_url=BASE))
    assert (reply.get_data(), count) == (b"1", 1)
    reply, count = trips(client, lambda: app.post("/write", base_url=BASE))
    assert (reply.status_code, count) == (200, 2)
    assert app.get("/read", base_url=BASE).get_data() == b"2"


# ------------------------------------------------------------------------------ Django
def django_login(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.session, DjangoSession)
    request.session.login("u1")
    request.session["n"] = 1
    return HttpResponse("ok")


def django_untouched(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def django_read(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session["n"]))


def django_write(request: HttpRequest) -> HttpResponse:
    request.session["n"] += 1
    return HttpResponse("ok")


async def django_async_read(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(await request.session.aget("n")))


async def django_async_untouched(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("async/read", django_async_read),
    path("async/untouched", django_async_untouched),
    path("login", django_login),
    path("untouched", django_untouched),
    path("read", django_read),
    path("write", django_write),
]


@pytest.mark.parametrize("lazy", [True, False])
def test_django_loads_only_for_views_that_use_the_session(
    counting: tuple[RedisStore, CountingRedis], lazy: bool
) -> None:
    store, client = counting
    sessionary = {"CONFIG": session_config(), "STORE": store, "LAZY": lazy}
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, SESSIONARY=sessionary):
        app = DjangoClient()
        assert app.post("/login", secure=True).status_code == 200
        reply, count = trips(client, lambda: app.get("/untouched", secure=True))
        assert (reply.content, count) == (b"ok", 0 if lazy else 1)
        assert "Set-Cookie" not in reply.headers
        reply, count = trips(client, lambda: app.get("/read", secure=True))
        assert (reply.content, count) == (b"1", 1)
        reply, count = trips(client, lambda: app.post("/write", secure=True))
        assert (reply.status_code, count) == (200, 2)
        assert app.get("/read", secure=True).content == b"2"


@pytest.mark.anyio
async def test_django_async_loads_only_for_views_that_use_the_session(
    counting: tuple[RedisStore, CountingRedis],
) -> None:
    store, client = counting
    sessionary = {"CONFIG": session_config(), "STORE": store, "LAZY": True}
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, SESSIONARY=sessionary):
        app = AsyncDjangoClient()
        assert (await app.post("/login", secure=True)).status_code == 200
        client.round_trips = 0
        reply = await app.get("/async/untouched", secure=True)
        assert (reply.content, client.round_trips) == (b"ok", 0)
        reply = await app.get("/async/read", secure=True)
        assert (reply.content, client.round_trips) == (b"1", 1)
