"""Conformance driver: FastAPI path operations using the ``Session`` dependency."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Response, WebSocket
from fastapi.responses import JSONResponse
from starlette.requests import Request

from sessionary.integrations.fastapi import CsrfToken, Session
from tests.conformance.driver import (
    FAILED_STATUS,
    FAILING_ROUTES,
    STEP_S,
    AppSpec,
    Driver,
    failing_view,
    own_headers,
)
from tests.conformance.drivers.asgi import serve_asgi


def _fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/untouched")
    def untouched() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/read")
    async def read(session: Session) -> dict[str, Any]:
        return {"data": dict(session)}

    @app.post("/write")
    async def write(request: Request, session: Session) -> JSONResponse:
        # Arbitrary query keys: read the raw query rather than declared parameters.
        for key, value in request.query_params.items():
            session[key] = value
        return JSONResponse({"data": dict(session)})

    @app.post("/append")
    def append(item: int, session: Session) -> dict[str, list[int]]:  # a sync endpoint too
        cart: list[int] = session.setdefault("cart", [])
        cart.append(item)
        return {"cart": cart}

    @app.post("/login")
    async def login(user: str, session: Session) -> dict[str, str | None]:
        session.login(user)
        return {"user": session.user_id}

    @app.post("/logout")
    async def logout(session: Session) -> dict[str, str]:
        session.logout()
        return {}

    @app.get("/whoami")
    async def whoami(
        request: Request, response: Response, session: Session
    ) -> dict[str, str | None]:
        response.headers.update(own_headers(request.query_params))
        return {"user": session.user_id}

    @app.get("/csrf")
    async def csrf(token: CsrfToken) -> dict[str, str]:
        return {"token": token}

    @app.get("/json")
    async def as_json(request: Request) -> Any:
        return request.session  # FastAPI serialises what a path operation returns

    @app.post("/increment")
    async def increment(session: Session) -> dict[str, int]:
        n: int = session.get("n", 0)
        await asyncio.sleep(STEP_S)
        session["n"] = n + 1
        return {"n": n + 1}

    @app.websocket("/ws")
    async def socket(websocket: WebSocket, session: Session) -> None:
        data = dict(session)
        await websocket.accept()
        await websocket.send_json({"data": data})
        await websocket.close()

    async def failing(request: Request, session: Session) -> JSONResponse:
        path = request.url.path
        result = failing_view(path, dict(request.query_params), session)
        return JSONResponse(result, status_code=FAILED_STATUS.get(path, 200))

    for path in FAILING_ROUTES:
        app.add_api_route(path, failing, methods=["POST"])

    return app


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as FastAPI path operations."""
    with serve_asgi(spec, _fastapi_app, "fastapi") as driver:
        yield driver
