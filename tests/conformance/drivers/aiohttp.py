"""Conformance driver: an aiohttp app through sessionary's aiohttp middleware."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import DummyCookieJar, WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, TestServer

from sessionary.integrations.aiohttp import Handler, csrf_token, get_session, setup
from tests.conformance.driver import (
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
from tests.conformance.drivers.asgi import async_store
from tests.conformance.loop_thread import LoopDriver, LoopThread, loop_thread


@web.middleware
async def _tls_proxy(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What a TLS-terminating proxy in front leaves the app: the scheme it was asked with.

    (The test server speaks plain HTTP; a ``Request`` with ``scheme="https"`` says so in
    ``X-Forwarded-Proto``, trusted here as from the one proxy, the way ``aiohttp_remotes``
    does it.)
    """
    if request.headers.get("X-Forwarded-Proto") == "https":
        request = request.clone(scheme="https")
    return await handler(request)


async def _untouched(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _read(request: web.Request) -> web.Response:
    return web.json_response({"data": dict(await get_session(request))})


async def _write(request: web.Request) -> web.Response:
    session = await get_session(request)
    for key, value in request.query.items():
        session[key] = value
    return web.json_response({"data": dict(session)})


async def _append(request: web.Request) -> web.Response:
    cart = (await get_session(request)).setdefault("cart", [])
    cart.append(int(request.query["item"]))
    return web.json_response({"cart": cart})


async def _login(request: web.Request) -> web.Response:
    session = await get_session(request)
    session.login(request.query["user"])
    return web.json_response({"user": session.user_id})


async def _logout(request: web.Request) -> web.Response:
    (await get_session(request)).logout()
    return web.json_response({})


async def _whoami(request: web.Request) -> web.Response:
    headers = own_headers(request.query)
    return web.json_response({"user": (await get_session(request)).user_id}, headers=headers)


async def _csrf(request: web.Request) -> web.Response:
    return web.json_response({"token": csrf_token(request)})


async def _json(request: web.Request) -> web.Response:
    return web.json_response(await get_session(request))


async def _increment(request: web.Request) -> web.Response:
    session = await get_session(request)
    n = session.get("n", 0)
    await asyncio.sleep(STEP_S)
    session["n"] = n + 1
    return web.json_response({"n": n + 1})


async def _ws(request: web.Request) -> web.WebSocketResponse:
    data = dict(await get_session(request))
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    await socket.send_json({"data": data})
    await socket.close()
    return socket


async def _failing(request: web.Request) -> web.Response:
    path = request.path
    result = failing_view(path, dict(request.query), await get_session(request))
    return web.json_response(result, status=FAILED_STATUS.get(path, 200))


class AiohttpDriver(LoopDriver):
    """aiohttp's TestServer/TestClient on a private loop, with a jar that keeps nothing."""

    name = "aiohttp"
    serves_websockets = True

    def __init__(self, loop: LoopThread, client: TestClient[web.Request, web.Application]):
        super().__init__(loop)
        self._client = client
        self.socket_origin = str(client.make_url("")).rstrip("/")

    async def send(self, request: Request) -> Reply:
        """Send one request through aiohttp's test client."""
        headers = list(request.headers)
        if request.scheme == "https":
            headers.append(("X-Forwarded-Proto", "https"))
        async with self._client.request(
            request.method, request.path, headers=headers, data=request.body
        ) as response:
            body = await response.read()
            return Reply(response.status, normalise_headers(list(response.headers.items())), body)

    def websocket(self, request: Request) -> WebSocketReply:
        """A handshake through aiohttp's test client (refused: an HTTP status)."""
        return self._loop.run(self._websocket(request))

    async def _websocket(self, request: Request) -> WebSocketReply:
        try:
            async with self._client.ws_connect(request.path, headers=list(request.headers)) as ws:
                return WebSocketReply(True, message=await ws.receive_json())
        except WSServerHandshakeError as refused:
            return WebSocketReply(False, refused.status)


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as aiohttp routes."""
    with loop_thread() as loop:

        async def start() -> TestClient[web.Request, web.Application]:
            app = web.Application(middlewares=[_tls_proxy])
            app.router.add_get("/untouched", _untouched)
            app.router.add_get("/read", _read)
            app.router.add_post("/write", _write)
            app.router.add_post("/append", _append)
            app.router.add_post("/login", _login)
            app.router.add_post("/logout", _logout)
            app.router.add_get("/whoami", _whoami)
            app.router.add_get("/csrf", _csrf)
            app.router.add_get("/json", _json)
            app.router.add_post("/increment", _increment)
            app.router.add_get("/ws", _ws)
            for path in FAILING_ROUTES:
                app.router.add_post(path, _failing)
            options = spec.options(lambda request: request.path)
            setup(app, store=async_store(spec), config=spec.config, **options)
            client = TestClient(TestServer(app), cookie_jar=DummyCookieJar())
            await client.start_server()
            return client

        client = loop.run(start())
        try:
            yield AiohttpDriver(loop, client)
        finally:
            loop.run(client.close())
