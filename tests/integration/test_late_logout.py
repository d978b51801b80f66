"""A logout while a streamed body is being sent ends the stored session once it is over.

The cookie left with the headers, so ``logout()`` raises
:class:`~sessionary.exceptions.SessionClosedError` saying it could not be cleared; every
adapter that can stream then calls ``manager.after_response``, and the old cookie no longer
names a session. Each app below logs in, then streams a body whose generator logs out,
catches the error and sends its message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from http.cookies import SimpleCookie
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient as AiohttpClient
from aiohttp.test_utils import TestServer
from flask import Flask, session, stream_with_context
from litestar import Litestar, get, post
from litestar.response import Stream
from quart import Quart
from quart import session as quart_session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client as WerkzeugClient

from sessionary import SessionClosedError
from sessionary.integrations import aiohttp as aiohttp_adapter
from sessionary.integrations.asgi import SessionMiddleware, get_session
from sessionary.integrations.flask import Sessionary
from sessionary.integrations.litestar import Session as LitestarSession
from sessionary.integrations.litestar import SessionaryConfig, SessionaryPlugin
from sessionary.integrations.quart import Sessionary as QuartSessionary
from sessionary.integrations.wsgi import SessionMiddleware as WsgiMiddleware
from sessionary.integrations.wsgi import StartResponse
from sessionary.integrations.wsgi import get_session as wsgi_session
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore, MemoryStore, RedisStore
from sessionary.stores.base import AsyncSessionStore, SessionStore
from sessionary.stores.memory import MemoryEngine
from sessionary.testing import session_config
from tests.conformance.drivers.django import MIDDLEWARE, configure_django

configure_django()

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

COOKIE = "__Host-session"
BASE = "https://testserver"
MESSAGE = "cookie could not be cleared"


class Stores:
    """A sync store, and async stores over the same sessions (each closed on its own loop)."""

    def __init__(self, sync: SessionStore, make_async: Callable[[], AsyncSessionStore]) -> None:
        self.sync = sync
        self.make_async = make_async


@pytest.fixture(params=["memory", "redis"])
def stores(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[Stores]:
    if request.param == "memory":
        engine = MemoryEngine()
        yield Stores(MemoryStore(engine=engine), lambda: AsyncMemoryStore(engine=engine))
        return
    request.getfixturevalue("redis_admin")  # deletes this test's keys afterwards
    url = request.getfixturevalue("redis_url")
    sync = RedisStore.from_url(url, prefix=key_prefix)
    yield Stores(sync, lambda: AsyncRedisStore.from_url(url, prefix=key_prefix))
    sync.close()


def cookie_in(headers: Iterable[tuple[str, str]]) -> str | None:
    for name, value in headers:
        if name.lower() == "set-cookie" and value.startswith(f"{COOKIE}="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return None


def late_logout_chunks(logout: Any) -> Iterator[bytes]:
    """The streamed body: a first chunk, then ``logout()``'s error message."""
    yield b"first;"
    try:
        logout()
    except SessionClosedError as error:
        yield str(error).encode()
    else:  # pragma: no cover - the assertion below reports it
        yield b"logout() did not raise"


# ------------------------------------------------------------------------------ ASGI
async def asgi_login(request: Request) -> JSONResponse:
    get_session(request).login("ada")
    return JSONResponse({})


async def asgi_whoami(request: Request) -> JSONResponse:
    return JSONResponse({"user": get_session(request).user_id})


async def asgi_stream(request: Request) -> StreamingResponse:
    session = get_session(request)

    async def body() -> AsyncIterator[bytes]:
        for chunk in late_logout_chunks(session.logout):
            yield chunk

    return StreamingResponse(body())


def test_asgi_streamed_logout_ends_the_session(stores: Stores) -> None:
    store = stores.make_async()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await store.aclose()  # on the loop that used it

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/login", asgi_login, methods=["POST"]),
            Route("/whoami", asgi_whoami),
            Route("/stream", asgi_stream),
        ],
    )
    app.add_middleware(SessionMiddleware, store=store, config=session_config())
    with TestClient(app, base_url=BASE, cookies=None) as client:
        token = cookie_in(client.post("/login").headers.multi_items())
        assert token is not None
        client.cookies.clear()
        jar = {"cookie": f"{COOKIE}={token}"}
        assert client.get("/whoami", headers=jar).json() == {"user": "ada"}
        streamed = client.get("/stream", headers=jar)
        assert streamed.content.startswith(b"first;")
        assert MESSAGE in streamed.text
        assert client.get("/whoami", headers=jar).json() == {"user": None}


# ------------------------------------------------------------------------------ WSGI
def wsgi_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    session = wsgi_session(environ)
    body: Iterable[bytes] = late_logout_chunks(session.logout)
    if environ["PATH_INFO"] == "/login":
        session.login("ada")
        body = [b"{}"]
    elif environ["PATH_INFO"] == "/whoami":
        body = [json.dumps({"user": session.user_id}).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return body


def werkzeug_round(client: WerkzeugClient, method: str, url: str, token: str | None) -> Any:
    headers = [("Cookie", f"{COOKIE}={token}")] if token else []
    response = client.open(url, method=method, headers=headers, base_url="https://localhost")
    response.get_data()
    response.close()  # the server closes the body: the response is over
    return response


def check_werkzeug(client: WerkzeugClient) -> None:
    token = cookie_in(werkzeug_round(client, "POST", "/login", None).headers.items())
    assert token is not None
    assert json.loads(werkzeug_round(client, "GET", "/whoami", token).get_data()) == {"user": "ada"}
    streamed = werkzeug_round(client, "GET", "/stream", token)
    assert streamed.get_data().startswith(b"first;")
    assert MESSAGE in streamed.get_data(as_text=True)
    assert json.loads(werkzeug_round(client, "GET", "/whoami", token).get_data()) == {"user": None}


def test_wsgi_streamed_logout_ends_the_session(stores: Stores) -> None:
    app = WsgiMiddleware(wsgi_app, store=stores.sync, config=session_config())
    check_werkzeug(WerkzeugClient(app, use_cookies=False))


# ------------------------------------------------------------------------------ Flask
def flask_app(store: SessionStore) -> Flask:
    app = Flask(__name__)

    @app.post("/login")
    def login() -> dict[str, Any]:
        session.login("ada")  # type: ignore[attr-defined]
        return {}

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return {"user": session.user_id}  # type: ignore[attr-defined]

    @app.get("/stream")
    def stream() -> Any:
        return stream_with_context(late_logout_chunks(session.logout))  # type: ignore[attr-defined]

    Sessionary(app, store=store, config=session_config())
    return app


def test_flask_streamed_logout_ends_the_session(stores: Stores) -> None:
    check_werkzeug(WerkzeugClient(flask_app(stores.sync), use_cookies=False))


# ------------------------------------------------------------------------------ Django
def django_login(request: HttpRequest) -> HttpResponse:
    request.session.login("ada")  # type: ignore[attr-defined]
    return JsonResponse({})


def django_whoami(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"user": request.session.user_id})  # type: ignore[attr-defined]


def django_stream(request: HttpRequest) -> HttpResponse:
    return StreamingHttpResponse(late_logout_chunks(request.session.flush))  # type: ignore[return-value]


async def django_astream(request: HttpRequest) -> HttpResponse:
    async def body() -> AsyncIterator[bytes]:
        for chunk in late_logout_chunks(request.session.flush):
            yield chunk

    return StreamingHttpResponse(body())  # type: ignore[return-value]


urlpatterns = [
    path("login", django_login),
    path("whoami", django_whoami),
    path("stream", django_stream),
    path("astream", django_astream),
]


def django_settings(store: SessionStore, async_store: AsyncSessionStore | None = None) -> Any:
    sessionary = {"CONFIG": session_config(), "STORE": store, "ASYNC_STORE": async_store}
    return override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, SESSIONARY=sessionary)


def django_request(client: Client, method: str, url: str, token: str | None) -> Any:
    client.cookies = SimpleCookie({COOKIE: token} if token else {})
    return client.generic(method, url, secure=True)


def test_django_streamed_logout_ends_the_session(stores: Stores) -> None:
    with django_settings(stores.sync):
        client = Client()
        login = django_request(client, "POST", "/login", None)
        token = login.cookies[COOKIE].value
        assert django_request(client, "GET", "/whoami", token).json() == {"user": "ada"}
        streamed = django_request(client, "GET", "/stream", token)
        body = b"".join(streamed.streaming_content)
        streamed.close()
        assert body.startswith(b"first;")
        assert MESSAGE in body.decode()
        assert django_request(client, "GET", "/whoami", token).json() == {"user": None}


@pytest.mark.anyio
async def test_django_async_streamed_logout_ends_the_session(stores: Stores) -> None:
    async_store = stores.make_async()
    with django_settings(stores.sync, async_store):
        client = AsyncClient()
        client.cookies = SimpleCookie()
        token = (await client.post("/login", secure=True)).cookies[COOKIE].value
        client.cookies = SimpleCookie({COOKIE: token})
        assert (await client.get("/whoami", secure=True)).json() == {"user": "ada"}
        streamed: Any = await client.get("/astream", secure=True)
        body = b"".join([chunk async for chunk in streamed.streaming_content])
        assert body.startswith(b"first;")
        assert MESSAGE in body.decode()
        client.cookies = SimpleCookie({COOKIE: token})
        assert (await client.get("/whoami", secure=True)).json() == {"user": None}
    await async_store.aclose()


# ------------------------------------------------------------------------------ aiohttp
async def aiohttp_login(request: web.Request) -> web.Response:
    (await aiohttp_adapter.get_session(request)).login("ada")
    return web.json_response({})


async def aiohttp_whoami(request: web.Request) -> web.Response:
    return web.json_response({"user": (await aiohttp_adapter.get_session(request)).user_id})


async def aiohttp_stream(request: web.Request) -> web.StreamResponse:
    session = await aiohttp_adapter.get_session(request)
    response = web.StreamResponse()
    await response.prepare(request)  # the commit: the cookie is decided here
    for chunk in late_logout_chunks(session.logout):
        await response.write(chunk)
    return response


@pytest.mark.anyio
async def test_aiohttp_streamed_logout_ends_the_session(stores: Stores) -> None:
    app = web.Application()
    app.router.add_post("/login", aiohttp_login)
    app.router.add_get("/whoami", aiohttp_whoami)
    app.router.add_get("/stream", aiohttp_stream)
    aiohttp_adapter.setup(app, store=stores.make_async(), config=session_config())  # closes it
    async with AiohttpClient(TestServer(app)) as client:
        login = await client.post("/login")
        token = cookie_in(login.headers.items())
        assert token is not None
        jar = {"Cookie": f"{COOKIE}={token}"}
        client.session.cookie_jar.clear()
        assert await (await client.get("/whoami", headers=jar)).json() == {"user": "ada"}
        streamed = await (await client.get("/stream", headers=jar)).read()
        assert streamed.startswith(b"first;")
        assert MESSAGE in streamed.decode()
        client.session.cookie_jar.clear()
        assert await (await client.get("/whoami", headers=jar)).json() == {"user": None}


# ------------------------------------------------------------------------------ Quart
@pytest.mark.anyio
async def test_quart_streamed_logout_ends_the_session(stores: Stores) -> None:
    app = Quart(__name__)

    @app.post("/login")
    async def login() -> dict[str, str]:
        quart_session.login("ada")  # type: ignore[attr-defined]
        return {}

    @app.get("/whoami")
    async def quart_whoami() -> dict[str, str | None]:
        return {"user": quart_session.user_id}  # type: ignore[attr-defined]

    @app.get("/stream")
    async def stream() -> AsyncIterator[bytes]:
        logout = quart_session.logout  # type: ignore[attr-defined]

        async def body() -> AsyncIterator[bytes]:
            for chunk in late_logout_chunks(logout):
                yield chunk

        return body()

    extension = QuartSessionary(app, store=stores.make_async(), config=session_config())
    client = app.test_client(use_cookies=False)
    token = cookie_in((await client.post("/login", scheme="https")).headers.items())
    assert token is not None
    jar = {"Cookie": f"{COOKIE}={token}"}
    whoami = await client.get("/whoami", headers=jar, scheme="https")
    assert await whoami.get_json() == {"user": "ada"}
    streamed = await (await client.get("/stream", headers=jar, scheme="https")).get_data(
        as_text=False
    )
    assert streamed.startswith(b"first;")
    assert MESSAGE in streamed.decode()
    whoami = await client.get("/whoami", headers=jar, scheme="https")
    assert await whoami.get_json() == {"user": None}
    await extension.close()


# ------------------------------------------------------------------------------ Litestar
@post("/login", status_code=200)
async def litestar_login(session: LitestarSession) -> dict[str, str]:
    session.login("ada")
    return {}


@get("/whoami")
async def litestar_whoami(session: LitestarSession) -> dict[str, str | None]:
    return {"user": session.user_id}


@get("/stream")
async def litestar_stream(session: LitestarSession) -> Stream:
    async def body() -> AsyncIterator[bytes]:
        for chunk in late_logout_chunks(session.logout):
            yield chunk

    return Stream(body())


def test_litestar_streamed_logout_ends_the_session(stores: Stores) -> None:
    from litestar.testing import TestClient as LitestarClient  # noqa: PLC0415

    config = SessionaryConfig(store=stores.make_async(), config=session_config())
    handlers = [litestar_login, litestar_whoami, litestar_stream]
    app = Litestar(handlers, plugins=[SessionaryPlugin(config)], logging_config=None)
    with LitestarClient(app, base_url="https://testserver.local") as client:
        token = cookie_in(client.post("/login").headers.multi_items())
        assert token is not None
        client.cookies.clear()
        jar = {"Cookie": f"{COOKIE}={token}"}
        assert client.get("/whoami", headers=jar).json() == {"user": "ada"}
        streamed = client.get("/stream", headers=jar).content
        assert streamed.startswith(b"first;")
        assert MESSAGE in streamed.decode()
        client.cookies.clear()
        assert client.get("/whoami", headers=jar).json() == {"user": None}
