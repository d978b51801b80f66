"""Lazy loading through the ASGI adapter and FastAPI: routes that never touch the session.

With ``SessionMiddleware(..., lazy=True)`` a request that presents a session ID gets its
session only when the route asks for it (``await load_session(request)``, FastAPI's
``Session`` dependency): an untouched route makes no round trip to Redis, and answers at
once while Redis hangs; a route that reads makes exactly one, as with eager loading.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from sessionary import SessionStateError
from sessionary.integrations.asgi import SessionMiddleware, load_session
from sessionary.integrations.fastapi import Session
from sessionary.sansio.ids import mint_token
from sessionary.stores import AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import session_config
from tests.redis_counting import AsyncCountingRedis
from tests.services import DEFAULT_HOST

pytestmark = pytest.mark.anyio

BASE = "https://testserver"
COOKIE = "__Host-session"


async def login(request: Request) -> JSONResponse:
    session = await load_session(request)
    session.login("ada")
    session["n"] = 1
    return JSONResponse({"ok": True})


async def read(request: Request) -> JSONResponse:
    session = await load_session(request)
    return JSONResponse({"n": session.get("n")})


async def write(request: Request) -> JSONResponse:
    session = await load_session(request)
    session["n"] = session.get("n", 0) + 1
    return JSONResponse({"n": session["n"]})


async def untouched(_: Request) -> PlainTextResponse:
    return PlainTextResponse("static")


async def unloaded(request: Request) -> JSONResponse:
    try:
        return JSONResponse(dict(request.session))  # without load_session
    except SessionStateError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)


def fastapi_app() -> FastAPI:
    api = FastAPI()

    @api.get("/read")
    async def api_read(session: Session) -> dict[str, Any]:
        return {"n": session.get("n")}

    @api.get("/static")
    async def api_static() -> str:
        return "static"

    return api


def lazy_app(store: AsyncSessionStore, *, lazy: bool = True) -> Starlette:
    app = Starlette(
        routes=[
            Route("/login", login, methods=["POST"]),
            Route("/read", read),
            Route("/write", write, methods=["POST"]),
            Route("/static", untouched),
            Route("/unloaded", unloaded),
            Mount("/api", fastapi_app()),
        ]
    )
    app.add_middleware(SessionMiddleware, store=store, config=session_config(), lazy=lazy)
    return app


@contextlib.asynccontextmanager
async def browser(app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


Counted = tuple[AsyncRedisStore, AsyncCountingRedis]


@pytest.fixture
async def counted(redis_url: str, key_prefix: str) -> AsyncIterator[Counted]:
    """A Redis store and its client, which counts the commands and round trips it sends."""
    client = AsyncCountingRedis.from_url(redis_url)
    assert isinstance(client, AsyncCountingRedis)
    store = AsyncRedisStore(client, prefix=key_prefix)
    await store.warm_up()
    yield store, client
    async for key in client.scan_iter(match=f"{key_prefix}*"):
        await client.delete(key)
    await client.aclose()


async def test_an_untouched_route_makes_no_round_trip_and_a_reading_route_one(
    counted: Counted,
) -> None:
    store, counting = counted
    sent = counting.sent
    async with browser(lazy_app(store)) as client:
        assert (await client.post("/login")).status_code == 200
        assert client.cookies.get(COOKIE)
        for path in ("/static", "/api/static"):
            sent.clear()
            counting.round_trips = 0
            reply = await client.get(path)
            assert reply.status_code == 200
            assert (sent, counting.round_trips) == ([], 0), path
            assert "set-cookie" not in reply.headers
            assert "vary" not in reply.headers  # the response does not depend on it
        for path in ("/read", "/api/read"):
            sent.clear()
            counting.round_trips = 0
            reply = await client.get(path)
            assert reply.json() == {"n": 1}
            # the load: the hash and its user's epoch, in one round trip
            assert (sent, counting.round_trips) == (["HGETALL", "GET"], 1), path
            assert reply.headers["vary"] == "Cookie"
        sent.clear()
        counting.round_trips = 0
        assert (await client.post("/write")).json() == {"n": 2}
        assert counting.round_trips == 2, sent  # the load, then the conditional update
        assert (await client.get("/read")).json() == {"n": 2}


async def test_the_session_is_refused_until_it_is_loaded(counted: Counted) -> None:
    async with browser(lazy_app(counted[0])) as client:
        await client.post("/login")
        reply = await client.get("/unloaded")
        assert reply.status_code == 409
        assert "await load_session(request) first" in reply.json()["error"]
        assert "set-cookie" not in reply.headers  # the session was never opened


async def test_without_a_cookie_a_lazy_mount_still_hands_out_a_new_session(
    counted: Counted,
) -> None:
    store, counting = counted
    sent = counting.sent
    async with browser(lazy_app(store)) as client:
        sent.clear()
        reply = await client.get("/read")
        assert reply.json() == {"n": None}
        assert sent == []  # no ID presented: nothing to load
        assert (await client.get("/unloaded")).json() == {}  # nothing to load: usable at once


@pytest.fixture
def hanging_redis() -> Iterator[str]:
    """A TCP port that accepts connections and never answers (a hung Redis)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((DEFAULT_HOST, 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        yield f"redis://{DEFAULT_HOST}:{port}/0"


async def test_an_untouched_route_answers_at_once_while_redis_hangs(hanging_redis: str) -> None:
    store = AsyncRedisStore.from_url(hanging_redis, timeout=30, retries=0)
    headers = {"cookie": f"{COOKIE}={mint_token().value}"}  # a well-formed ID: a load
    try:
        async with browser(lazy_app(store)) as client:
            for path in ("/static", "/api/static"):
                reply = await asyncio.wait_for(client.get(path, headers=headers), 10)
                assert reply.status_code == 200
        async with browser(lazy_app(store, lazy=False)) as client:
            with pytest.raises(TimeoutError):  # eager loading waits for the hung server
                await asyncio.wait_for(client.get("/static", headers=headers), 1)
    finally:
        await store.aclose()
