"""An app written for Starlette's own ``SessionMiddleware`` runs on sessionary unchanged.

The application below uses ``request.session`` the way Starlette's documentation and its
users do — JSON responses built directly from it, ``update``, ``setdefault``, ``pop``,
``clear``, ``in`` and ``len`` — and is built twice: once with
``starlette.middleware.sessions.SessionMiddleware``, once with sessionary's. Only the
middleware line differs; the same requests get the same answers.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessionary.integrations.asgi import SessionMiddleware
from sessionary.stores import AsyncMemoryStore
from sessionary.testing import session_config


# ---------------------------------------------------------- the app, as written for Starlette
async def cart(request: Request) -> JSONResponse:
    return JSONResponse(request.session)


async def add(request: Request) -> JSONResponse:
    item = request.query_params["item"]
    request.session.update({"last": item})
    request.session.setdefault("items", []).append(item)
    return JSONResponse(request.session)


async def remove(request: Request) -> JSONResponse:
    removed = request.session.pop("last", None)
    return JSONResponse({"removed": removed, "left": len(request.session)})


async def status(request: Request) -> JSONResponse:
    return JSONResponse({"has_items": "items" in request.session, "session": request.session})


async def empty(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse(request.session)


ROUTES = [
    Route("/cart", cart),
    Route("/add", add, methods=["POST"]),
    Route("/remove", remove, methods=["POST"]),
    Route("/status", status),
    Route("/empty", empty, methods=["POST"]),
]

VISIT = [
    ("GET", "/cart"),
    ("POST", "/add?item=apple"),
    ("POST", "/add?item=pear"),
    ("GET", "/cart"),
    ("POST", "/remove"),
    ("POST", "/remove"),
    ("GET", "/status"),
    ("POST", "/empty"),
    ("GET", "/status"),
    ("POST", "/add?item=fig"),
    ("GET", "/cart"),
]


# ---------------------------------------------------------- the only line that differs
def middleware(kind: str) -> Middleware:
    if kind == "starlette":
        return Middleware(StarletteSessionMiddleware, secret_key="not-a-secret-in-this-test")
    return Middleware(SessionMiddleware, store=AsyncMemoryStore(), config=session_config())


def answers(kind: str) -> list[tuple[int, object]]:
    app = Starlette(routes=ROUTES, middleware=[middleware(kind)])
    with TestClient(app, base_url="https://testserver") as client:
        return [
            (reply.status_code, reply.json())
            for reply in (client.request(method, url) for method, url in VISIT)
        ]


def test_the_same_requests_get_the_same_answers() -> None:
    with_starlette = answers("starlette")
    assert answers("sessionary") == with_starlette
    assert with_starlette[3] == (200, {"last": "pear", "items": ["apple", "pear"]})
    assert with_starlette[-1] == (200, {"last": "fig", "items": ["fig"]})
