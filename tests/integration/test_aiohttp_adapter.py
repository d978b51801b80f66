"""aiohttp specifics beyond the conformance suite: streamed responses, new_session(),
commit failures and setup errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sessionary import ConfigurationError
from sessionary.integrations.aiohttp import Handler, get_session, new_session, setup
from sessionary.sansio.ids import mint_token
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import session_config
from tests.redis_counting import AsyncCountingRedis
from tests.scripted_stores import FailingStore

pytestmark = pytest.mark.anyio
COOKIE = "__Host-session"


async def write(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["n"] = session.get("n", 0) + 1
    return web.json_response({"n": session["n"]})


async def stream(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session["streamed"] = True
    response = web.StreamResponse(headers={"Vary": "Accept"})
    await response.prepare(request)  # the commit happens here, before the headers leave
    await response.write(b"chunk")
    await response.write_eof()
    return response


async def fresh(request: web.Request) -> web.Response:
    session = await new_session(request)
    session["fresh"] = True
    return web.json_response(dict(session))


async def read(request: web.Request) -> web.Response:
    return web.json_response(dict(await get_session(request)))


@pytest.fixture
async def client_for() -> AsyncIterator[object]:
    clients: list[TestClient[web.Request, web.Application]] = []

    async def make(
        store: AsyncSessionStore, **config: object
    ) -> TestClient[web.Request, web.Application]:
        app = web.Application()
        app.router.add_post("/write", write)
        app.router.add_get("/stream", stream)
        app.router.add_post("/fresh", fresh)
        app.router.add_get("/read", read)
        setup(app, store=store, config=session_config(**config))
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def cookie_of(response: object) -> str | None:
    for value in response.headers.getall("Set-Cookie", []):  # type: ignore[attr-defined]
        if value.startswith(f"{COOKIE}="):
            return str(value.split(";", 1)[0].split("=", 1)[1])
    return None


async def test_streamed_responses_get_their_cookie_before_the_headers(client_for) -> None:  # type: ignore[no-untyped-def]
    client = await client_for(AsyncMemoryStore())
    async with client.get("/stream") as response:
        assert await response.read() == b"chunk"
        token = cookie_of(response)
        assert token is not None
        assert response.headers["Vary"] == "Accept, Cookie"
    async with client.get("/read", headers={"Cookie": f"{COOKIE}={token}"}) as response:
        assert await response.json() == {"streamed": True}


async def test_new_session_discards_the_old_one(client_for) -> None:  # type: ignore[no-untyped-def]
    client = await client_for(AsyncMemoryStore())
    async with client.post("/write") as response:
        old = cookie_of(response)
    jar = {"Cookie": f"{COOKIE}={old}"}
    async with client.post("/fresh", headers=jar) as response:
        assert await response.json() == {"fresh": True}
        new = cookie_of(response)
    assert new not in (None, old)
    async with client.get("/read", headers=jar) as response:
        assert await response.json() == {}


@pytest.mark.parametrize(("flag", "status"), [("fail_commit", 503), ("conflict", 409)])
async def test_commit_failures(  # type: ignore[no-untyped-def]
    client_for, flag: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingStore()
    client = await client_for(store, conflict_policy="raise")
    async with client.post("/write") as response:
        jar = {"Cookie": f"{COOKIE}={cookie_of(response)}"}
    setattr(store, flag, True)
    async with client.post("/write", headers=jar) as response:
        assert response.status == status
        assert cookie_of(response) is None
    async with client.get("/stream", headers=jar) as response:
        assert response.status == 200  # already bound to the connection: cannot change
        assert cookie_of(response) is None
        assert response.headers["Cache-Control"] == "no-store"
    assert "could not be saved before a streamed response" in caplog.text


async def test_load_outage_gives_503() -> None:
    app = web.Application()
    app.router.add_get("/read", read)
    setup(app, store=FailingStore(fail_load=True), config=session_config())
    cookie = {"Cookie": f"{COOKIE}={'A' * 43}"}
    async with TestClient(TestServer(app)) as client, client.get("/read", headers=cookie) as got:
        assert got.status == 503


async def test_setup_and_get_session_errors() -> None:
    with pytest.raises(ConfigurationError):
        setup(web.Application())

    async def unmanaged(request: web.Request) -> web.Response:
        await get_session(request)
        return web.Response()

    app = web.Application()
    app.router.add_get("/", unmanaged)
    async with TestClient(TestServer(app)) as client, client.get("/") as response:
        assert response.status == 500


async def test_an_inner_error_middlewares_500_for_an_outage_becomes_503() -> None:
    """An error-page middleware inside sessionary's turns the outage into its own 500."""

    @web.middleware
    async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception:  # what such middlewares do
            return web.json_response({"error": "internal"}, status=500)

    app = web.Application()
    app.router.add_get("/read", read)
    store = FailingStore(fail_load=True)
    setup(app, store=store, config=session_config())
    app.middlewares.append(error_pages)  # inner: runs after sessionary's
    async with TestClient(TestServer(app)) as client:
        headers = {"Cookie": f"{COOKIE}={mint_token().value}"}
        async with client.get("/read", headers=headers) as response:
            assert response.status == 503
            assert await response.text() == "Service Unavailable"
            assert "Set-Cookie" not in response.headers


# ------------------------------------------------------------------------ lazy=True
async def untouched(_: web.Request) -> web.Response:
    return web.Response(text="static")


async def test_lazy_loads_only_for_handlers_that_ask(redis_url: str, key_prefix: str) -> None:
    """``setup(..., lazy=True)``: 0 round trips for a handler that never asks, 1 to read."""
    redis_client = AsyncCountingRedis.from_url(redis_url)
    assert isinstance(redis_client, AsyncCountingRedis)
    store = AsyncRedisStore(redis_client, prefix=key_prefix)
    app = web.Application()
    app.router.add_post("/write", write)
    app.router.add_get("/read", read)
    app.router.add_get("/static", untouched)
    setup(app, store=store, config=session_config(), lazy=True)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        written = await client.post("/write")  # no cookie yet: nothing to load
        token = cookie_of(written)
        assert token is not None
        headers = {"Cookie": f"{COOKIE}={token}"}
        redis_client.sent.clear()
        static = await client.get("/static", headers=headers)
        assert await static.text() == "static"
        assert redis_client.sent == []
        assert "Set-Cookie" not in static.headers
        assert await (await client.get("/read", headers=headers)).json() == {"n": 1}
        assert len(redis_client.sent) == 1, redis_client.sent  # the load
        redis_client.sent.clear()
        assert await (await client.post("/write", headers=headers)).json() == {"n": 2}
        assert len(redis_client.sent) == 2, redis_client.sent  # the load and the update
    finally:
        await client.close()
        async for key in redis_client.scan_iter(match=f"{key_prefix}*"):
            await redis_client.delete(key)


async def test_lazy_handlers_that_do_not_ask_answer_while_redis_hangs() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        store = AsyncRedisStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=30, retries=0)
        app = web.Application()
        app.router.add_get("/static", untouched)
        setup(app, store=store, config=session_config(), lazy=True)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            headers = {"Cookie": f"{COOKIE}={mint_token().value}"}  # a well-formed ID
            reply = await asyncio.wait_for(client.get("/static", headers=headers), 10)
            assert reply.status == 200
        finally:
            await client.close()


@web.middleware
async def _tls_proxy(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The scheme a TLS-terminating proxy reported (the test server speaks plain HTTP)."""
    if request.headers.get("X-Forwarded-Proto") == "https":
        request = request.clone(scheme="https")
    return await handler(request)


async def missing(request: web.Request) -> web.Response:
    await get_session(request)
    raise web.HTTPNotFound


async def test_hsts_reaches_streamed_responses_and_raised_http_errors() -> None:
    hsts = "max-age=63072000; includeSubDomains"
    app = web.Application(middlewares=[_tls_proxy])
    app.router.add_get("/stream", stream)
    app.router.add_get("/missing", missing)
    setup(app, store=AsyncMemoryStore(), config=session_config(strict_transport_security=hsts))
    https = {"X-Forwarded-Proto": "https"}
    async with TestClient(TestServer(app)) as client:
        async with client.get("/stream", headers=https) as response:
            assert await response.read() == b"chunk"
            assert response.headers["Strict-Transport-Security"] == hsts
        async with client.get("/missing", headers=https) as response:
            assert response.status == 404
            assert response.headers["Strict-Transport-Security"] == hsts
        async with client.get("/stream") as response:  # plain HTTP
            assert await response.read() == b"chunk"
            assert "Strict-Transport-Security" not in response.headers
