"""Conformance driver: a Quart app using ``quart.session`` through the Sessionary extension."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from quart import Quart, abort, request, session, websocket
from quart.testing import QuartClient
from quart.testing.connections import WebsocketResponseError
from werkzeug.datastructures import Headers

from sessionary.integrations.quart import QuartSession, Sessionary, csrf_token
from sessionary.sansio.session import Session
from tests.conformance.driver import (
    FAILED_STATUS,
    STEP_S,
    AppSpec,
    Driver,
    Reply,
    Request,
    WebSocketReply,
    normalise_headers,
    own_headers,
)
from tests.conformance.drivers.asgi import async_store
from tests.conformance.drivers.wsgi import standard_view
from tests.conformance.loop_thread import LoopDriver, LoopThread, loop_thread


def _quart_session() -> Session:
    """``quart.session`` itself (the proxy users write to), checked to be sessionary's."""
    assert isinstance(session._get_current_object(), QuartSession)  # type: ignore[attr-defined]
    return cast(Session, session)


def _quart_app(extension: Sessionary) -> Quart:
    app = Quart(__name__)

    @app.route("/json")
    async def as_json() -> dict[str, Any]:
        return dict(session)  # Quart answers a returned dict as JSON

    @app.route("/<name>", methods=["GET", "POST"])
    async def standard(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        path = f"/{name}"
        query = dict(request.args)
        if path == "/increment":  # the pause the Quart way: the event loop runs on
            n: int = session.get("n", 0)
            await asyncio.sleep(STEP_S)
            session["n"] = n + 1
            result: dict[str, Any] | None = {"n": n + 1}
        else:
            result = standard_view(path, query, _quart_session, csrf_token)
        if result is None:
            abort(404)
        return result, FAILED_STATUS.get(path, 200), own_headers(query)

    @app.websocket("/ws")
    async def socket() -> None:
        data = dict(session)
        await websocket.accept()
        await websocket.send_json({"data": data})
        await websocket.close(1000)

    extension.init_app(app)
    return app


class QuartDriver(LoopDriver):
    """Quart's own test client on a private loop, without a cookie jar."""

    name = "quart"
    serves_websockets = True
    socket_origin = "https://localhost"

    def __init__(self, loop: LoopThread, client: QuartClient) -> None:
        super().__init__(loop)
        self._client = client

    async def send(self, request: Request) -> Reply:
        """Send one request through Quart's test client (``https`` unless it names a scheme)."""
        response = await self._client.open(
            request.path,
            method=request.method,
            headers=Headers(list(request.headers)),
            data=request.body,
            scheme=request.scheme or "https",
        )
        body = await response.get_data(as_text=False)
        return Reply(response.status_code, normalise_headers(list(response.headers.items())), body)

    def websocket(self, request: Request) -> WebSocketReply:
        """A handshake through Quart's test client (refused: the HTTP status it answered)."""
        return self._loop.run(self._websocket(request))

    async def _websocket(self, request: Request) -> WebSocketReply:
        headers = Headers(list(request.headers))
        try:
            async with self._client.websocket(request.path, headers=headers, scheme="wss") as ws:
                return WebSocketReply(True, message=await ws.receive_json())
        except WebsocketResponseError as refused:
            return WebSocketReply(False, refused.response.status_code)


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as Quart views."""
    with loop_thread() as loop:
        options = spec.options(lambda connection: connection.path)
        extension = Sessionary(store=async_store(spec), config=spec.config, **options)
        app = _quart_app(extension)
        client = cast(QuartClient, app.test_client(use_cookies=False))
        try:
            yield QuartDriver(loop, client)
        finally:
            loop.run(extension.close())
