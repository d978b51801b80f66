"""Conformance driver: Starlette + sessionary's ASGI middleware, via httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessionary.integrations.asgi import SessionMiddleware, csrf_token, get_session
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore, CookieStore
from sessionary.stores.base import AsyncSessionStore
from tests.conformance.driver import (
    DOWN_URL,
    FAILED_STATUS,
    FAILING_ROUTES,
    AppSpec,
    Driver,
    Reply,
    Request,
    failing_view,
    normalise_headers,
)
from tests.conformance.loop_thread import LoopDriver, LoopThread, loop_thread


async def _untouched(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"ok": True})


async def _read(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"data": dict(get_session(request))})


async def _write(request: StarletteRequest) -> JSONResponse:
    session = get_session(request)
    for key, value in request.query_params.items():
        session[key] = value
    return JSONResponse({"data": dict(session)})


async def _append(request: StarletteRequest) -> JSONResponse:
    cart = get_session(request).setdefault("cart", [])
    cart.append(int(request.query_params["item"]))
    return JSONResponse({"cart": cart})


async def _login(request: StarletteRequest) -> JSONResponse:
    session = get_session(request)
    session.login(request.query_params["user"])
    return JSONResponse({"user": session.user_id})


async def _logout(request: StarletteRequest) -> JSONResponse:
    get_session(request).logout()
    return JSONResponse({})


async def _whoami(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"user": get_session(request).user_id})


async def _csrf(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"token": csrf_token(request)})


async def _json(request: StarletteRequest) -> JSONResponse:
    return JSONResponse(request.session)


async def _failing(request: StarletteRequest) -> JSONResponse:
    path = request.url.path
    result = failing_view(path, dict(request.query_params), request.session)
    return JSONResponse(result, status_code=FAILED_STATUS.get(path, 200))


def async_store(spec: AppSpec) -> AsyncSessionStore | CookieStore:
    """The asyncio store a driver uses for ``spec``."""
    if spec.store == "cookie":
        return CookieStore()
    if spec.store == "memory":
        return AsyncMemoryStore()
    if spec.store == "redis":  # generous: 1 000 concurrent requests share one loop/pool
        return AsyncRedisStore.from_url(
            spec.redis_url, prefix=spec.key_prefix, timeout=10, pool_timeout=60
        )
    return AsyncRedisStore.from_url(DOWN_URL, prefix=spec.key_prefix, timeout=0.5, retries=0)


def _no_cookie_jar() -> CookieJar:
    """A jar that stores nothing: the suite sends cookies itself."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class AsgiDriver(LoopDriver):
    """Drives the standard app on a private event loop."""

    name = "asgi"

    def __init__(self, loop: LoopThread, client: httpx2.AsyncClient) -> None:
        super().__init__(loop)
        self._client = client

    async def send(self, request: Request) -> Reply:
        """Send one request through httpx's ASGI transport."""
        response = await self._client.request(
            request.method, request.path, headers=list(request.headers)
        )
        return Reply(
            response.status_code,
            normalise_headers(response.headers.multi_items()),
            response.content,
        )


def _starlette_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/untouched", _untouched),
            Route("/read", _read),
            Route("/write", _write, methods=["POST"]),
            Route("/append", _append, methods=["POST"]),
            Route("/login", _login, methods=["POST"]),
            Route("/logout", _logout, methods=["POST"]),
            Route("/whoami", _whoami),
            Route("/csrf", _csrf),
            Route("/json", _json),
            *(Route(path, _failing, methods=["POST"]) for path in FAILING_ROUTES),
        ]
    )


@contextmanager
def serve_asgi(spec: AppSpec, build: Callable[[], Starlette], name: str) -> Iterator[Driver]:
    """Run ``build()`` wrapped in ``SessionMiddleware`` for ``spec`` on a private loop."""
    with loop_thread() as loop:

        async def start() -> tuple[AsyncSessionStore | CookieStore, httpx2.AsyncClient]:
            store = async_store(spec)
            app = build()
            app.add_middleware(
                SessionMiddleware,
                store=store,
                config=spec.config,
                csrf=spec.csrf,
                commit_on_error=spec.commit_on_error,
            )
            # Like a server: an application error is a 500 reply, not an exception here.
            transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
            client = httpx2.AsyncClient(
                transport=transport, base_url="https://testserver", cookies=_no_cookie_jar()
            )
            return store, client

        store, client = loop.run(start())
        try:
            driver = AsgiDriver(loop, client)
            driver.name = name
            yield driver
        finally:

            async def stop() -> None:
                await client.aclose()
                await store.aclose()

            loop.run(stop())


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as Starlette routes behind the ASGI middleware."""
    with serve_asgi(spec, _starlette_app, "asgi") as driver:
        yield driver
