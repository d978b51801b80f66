"""Conformance driver: the Starlette app of ``asgi.py`` through Starlette's ``TestClient``,
used *without* ``with``.

Without ``with``, the ``TestClient`` starts a new event loop (an anyio portal) for every
request and shuts it down afterwards, as asgiref does for Django's async views under WSGI:
the asyncio store is created outside any loop and serves one fresh loop after another (and,
from ``concurrently``'s threads, several at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from sessionary.integrations.asgi import SessionMiddleware
from tests.conformance.driver import (
    AppSpec,
    Driver,
    Reply,
    Request,
    ThreadedDriver,
    WebSocketReply,
    normalise_headers,
)
from tests.conformance.drivers.asgi import _no_cookie_jar, _starlette_app, async_store


class AsgiNoWithDriver(ThreadedDriver):
    """One ``TestClient``, never entered: each request runs on an event loop of its own."""

    name = "asgi_nowith"
    serves_websockets = True
    socket_origin = "http://testserver"  # its WebSocket URLs are ws://testserver

    def __init__(self, client: TestClient) -> None:
        self._client = client

    def request(self, request: Request) -> Reply:
        """Send one request (the client starts and ends a loop for it)."""
        url = (
            request.path
            if request.scheme is None
            else f"{request.scheme}://testserver{request.path}"
        )
        response = self._client.request(
            request.method, url, headers=list(request.headers), content=request.body
        )
        return Reply(
            response.status_code,
            normalise_headers(response.headers.multi_items()),
            response.content,
        )

    def websocket(self, request: Request) -> WebSocketReply:
        """A handshake through Starlette's test client (a loop of its own, too)."""
        try:
            with self._client.websocket_connect(
                request.path, headers=dict(request.headers)
            ) as socket:
                return WebSocketReply(True, message=socket.receive_json())
        except WebSocketDisconnect as refused:
            return WebSocketReply(False, refused.code)


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as Starlette routes behind the ASGI middleware."""
    store = async_store(spec)  # created outside any event loop
    app = _starlette_app()
    options = spec.options(lambda scope: scope["path"])
    app.add_middleware(SessionMiddleware, store=store, config=spec.config, **options)
    # Like a server: an application error is a 500 reply, not an exception here.
    client = TestClient(
        app,
        base_url="https://testserver",
        cookies=_no_cookie_jar(),
        raise_server_exceptions=False,
    )
    try:
        yield AsgiNoWithDriver(client)
    finally:
        client.close()
        asyncio.run(store.aclose())
