"""Conformance driver: Litestar route handlers through ``SessionaryPlugin``, its AsyncTestClient."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, cast

from litestar import Litestar, Request, Response, get, post, websocket
from litestar.connection import WebSocket
from litestar.testing import AsyncTestClient

from sessionary.integrations.litestar import (
    CsrfToken,
    Session,
    SessionaryConfig,
    SessionaryPlugin,
)
from tests.conformance.driver import (
    FAILED_STATUS,
    FAILING_ROUTES,
    STEP_S,
    AppSpec,
    Driver,
    failing_view,
    own_headers,
)
from tests.conformance.drivers.asgi import AsgiDriver, async_store
from tests.conformance.loop_thread import loop_thread

Json = dict[str, Any]


@get("/untouched")
async def _untouched() -> Json:
    return {"ok": True}


@get("/read")
async def _read(session: Session) -> Json:
    return {"data": dict(session)}


@post("/write", status_code=200)
async def _write(request: Request[Any, Any, Any], session: Session) -> Json:
    for key, value in request.query_params.items():
        session[key] = value
    return {"data": dict(session)}


@post("/append", status_code=200)
async def _append(request: Request[Any, Any, Any], session: Session) -> Json:
    cart: list[int] = session.setdefault("cart", [])
    cart.append(int(request.query_params["item"]))
    return {"cart": cart}


@post("/login", status_code=200)
async def _login(request: Request[Any, Any, Any], session: Session) -> Json:
    session.login(request.query_params["user"])
    return {"user": session.user_id}


@post("/logout", status_code=200)
async def _logout(request: Request[Any, Any, Any]) -> Json:
    request.clear_session()  # Litestar's own call: sessionary logs out
    return {}


@get("/whoami")
async def _whoami(request: Request[Any, Any, Any], session: Session) -> Response[Json]:
    return Response({"user": session.user_id}, headers=own_headers(request.query_params))


@get("/csrf")
async def _csrf(csrf_token: CsrfToken) -> Json:
    return {"token": csrf_token}


@get("/json")
async def _json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.session  # Litestar's request.session, serialised as a handler's return


@post("/increment", status_code=200)
async def _increment(session: Session) -> Json:
    n: int = session.get("n", 0)
    await asyncio.sleep(STEP_S)
    session["n"] = n + 1
    return {"n": n + 1}


@websocket("/ws")
async def _ws(socket: WebSocket[Any, Any, Any], session: Session) -> None:
    data = dict(session)
    await socket.accept()
    await socket.send_json({"data": data})
    await socket.close()


@post(list(FAILING_ROUTES), status_code=200)
async def _failing(request: Request[Any, Any, Any], session: Session) -> Response[Any]:
    path = request.url.path
    result = failing_view(path, dict(request.query_params), session)
    return Response(result, status_code=FAILED_STATUS.get(path, 200))


HANDLERS = [
    _untouched,
    _read,
    _write,
    _append,
    _login,
    _logout,
    _whoami,
    _csrf,
    _json,
    _increment,
    _ws,
    _failing,
]


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as Litestar route handlers."""
    with loop_thread() as loop:

        async def start() -> tuple[AsyncTestClient[Litestar], Litestar]:
            options = spec.options(lambda scope: scope["path"])
            config = SessionaryConfig(store=async_store(spec), config=spec.config, **options)
            # logging_config=None: Litestar would reconfigure the root logger (dropping caplog).
            app = Litestar(
                route_handlers=HANDLERS, plugins=[SessionaryPlugin(config)], logging_config=None
            )
            client = AsyncTestClient(
                app,
                base_url="https://testserver.local",
                raise_server_exceptions=False,
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
            await client.__aenter__()
            return client, app

        client, app = loop.run(start())
        try:  # Litestar's client is an httpx client: the ASGI driver sends through it
            driver = AsgiDriver(loop, cast(Any, client), app)
            driver.name = "litestar"
            yield driver
        finally:
            loop.run(client.__aexit__(None, None, None))
