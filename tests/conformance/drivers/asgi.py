"""Conformance driver: Starlette + sessionary's ASGI middleware, via httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from sessionary.integrations.asgi import SessionMiddleware, csrf_token, get_session
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore, CookieStore
from sessionary.stores.base import AsyncSessionStore
from tests.conformance.driver import (
    DOWN_URL,
    FAILED_STATUS,
    FAILING_ROUTES,
    STEP_S,
    AppSpec,
    Driver,
    Reply,
    Request,
    WebSocketReply,
    failing_view,
    normalise_headers,
    own_headers,
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
    headers = own_headers(request.query_params)
    return JSONResponse({"user": get_session(request).user_id}, headers=headers)


async def _csrf(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"token": csrf_token(request)})


async def _json(request: StarletteRequest) -> JSONResponse:
    return JSONResponse(request.session)


async def _increment(request: StarletteRequest) -> JSONResponse:
    session = get_session(request)
    n = session.get("n", 0)
    await asyncio.sleep(STEP_S)
    session["n"] = n + 1
    return JSONResponse({"n": n + 1})


async def _ws(websocket: WebSocket) -> None:
    data = dict(get_session(websocket))
    await websocket.accept()
    await websocket.send_json({"data": data})
    await websocket.close()


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
    serves_websockets = True
    socket_origin = "https://testserver"

    def __init__(self, loop: LoopThread, client: httpx2.AsyncClient, app: Any) -> None:
        super().__init__(loop)
        self._client = client
        self._app = app

    async def send(self, request: Request) -> Reply:
        """Send one request through httpx's ASGI transport."""
        url = (
            request.path
            if request.scheme is None
            else f"{request.scheme}://testserver{request.path}"
        )
        response = await self._client.request(
            request.method, url, headers=list(request.headers), content=request.body
        )
        return Reply(
            response.status_code,
            normalise_headers(response.headers.multi_items()),
            response.content,
        )

    def websocket(self, request: Request) -> WebSocketReply:
        """A handshake through the ASGI protocol itself (httpx speaks no WebSocket)."""
        return self._loop.run(asgi_websocket(self._app, request))


async def asgi_websocket(app: Any, request: Request) -> WebSocketReply:
    """Connect, then read what the app sends until it closes: accepted, or closed at once."""
    headers = [("host", "testserver"), *request.headers]
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "wss",
        "http_version": "1.1",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
        "subprotocols": [],
    }
    inbox = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if not sent or sent[0]["type"] != "websocket.accept":
        return WebSocketReply(False, sent[0].get("code") if sent else None)
    texts = [m["text"] for m in sent if m["type"] == "websocket.send"]
    return WebSocketReply(True, message=json.loads(texts[0]) if texts else None)


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
            Route("/increment", _increment, methods=["POST"]),
            WebSocketRoute("/ws", _ws),
            *(Route(path, _failing, methods=["POST"]) for path in FAILING_ROUTES),
        ]
    )


@contextmanager
def serve_asgi(spec: AppSpec, build: Callable[[], Starlette], name: str) -> Iterator[Driver]:
    """Run ``build()`` wrapped in ``SessionMiddleware`` for ``spec`` on a private loop."""
    with loop_thread() as loop:

        async def start() -> tuple[AsyncSessionStore | CookieStore, httpx2.AsyncClient, Any]:
            store = async_store(spec)
            app = build()
            options = spec.options(lambda scope: scope["path"])
            app.add_middleware(SessionMiddleware, store=store, config=spec.config, **options)
            # Like a server: an application error is a 500 reply, not an exception here.
            transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
            client = httpx2.AsyncClient(
                transport=transport, base_url="https://testserver", cookies=_no_cookie_jar()
            )
            return store, client, app

        store, client, app = loop.run(start())
        try:
            driver = AsgiDriver(loop, client, app)
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
