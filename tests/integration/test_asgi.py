"""The ASGI middleware with Starlette and FastAPI, through each framework's own test client.

Parametrized over the memory store and real Redis. (The round-trip budget and malformed
inputs are in test_acceptance_budget.py.)
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx2
import pytest
import redis
from fastapi import FastAPI, HTTPException, Request
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from sessionary import AsyncSessionManager, ConfigurationError, Session, SessionConfig
from sessionary.exceptions import SessionClosedError
from sessionary.integrations.asgi import SessionMiddleware, get_session
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore, MemoryStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import FakeClock, session_config
from tests.scripted_stores import FailingStore
from tests.services import free_port

BASE = "https://testserver"


# ---------------------------------------------------------------------- the app under test
async def read(request: StarletteRequest) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def write(request: StarletteRequest) -> JSONResponse:
    for key, value in request.query_params.items():
        request.session[key] = value
    return JSONResponse(dict(request.session))


async def cart(request: StarletteRequest) -> JSONResponse:
    request.session.setdefault("cart", []).append(int(request.query_params["item"]))
    return JSONResponse(request.session["cart"])


async def login(request: StarletteRequest) -> JSONResponse:
    session = get_session(request)
    session.login(request.query_params.get("user", "u1"))
    return JSONResponse({"user": session.user_id})


async def logout(request: StarletteRequest) -> JSONResponse:
    get_session(request).logout()
    if "flash" in request.query_params:
        request.session["flash"] = "bye"
    return JSONResponse({})


async def rotate(request: StarletteRequest) -> JSONResponse:
    get_session(request).rotate()
    return JSONResponse({})


async def untouched(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def cacheable(request: StarletteRequest) -> Response:
    request.session["seen"] = True
    return PlainTextResponse(
        "ok", headers={"Cache-Control": "public, max-age=600", "Vary": "Accept-Encoding"}
    )


async def stream_then_write(request: StarletteRequest) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield b"first chunk"
        request.session["late"] = True  # after http.response.start: must not be lost silently

    return StreamingResponse(body())


async def ws(websocket: WebSocket) -> None:
    websocket.session["via_ws"] = True  # before accept: committed with the handshake
    await websocket.accept()
    await websocket.send_json(dict(websocket.session))
    await websocket.close()


async def write_then_raise(request: StarletteRequest) -> JSONResponse:
    request.session["written"] = True
    if "logout" in request.query_params:
        get_session(request).logout()
    raise RuntimeError("the handler failed")


async def whoami(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"user": get_session(request).user_id})


def make_app(store: AsyncSessionStore, config: SessionConfig, *, debug: bool = False) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await store.aclose()  # connections belong to the app's event loop

    app = Starlette(
        debug=debug,
        lifespan=lifespan,
        routes=[
            Route("/read", read),
            Route("/write", write),
            Route("/cart", cart),
            Route("/login", login),
            Route("/logout", logout),
            Route("/rotate", rotate),
            Route("/untouched", untouched),
            Route("/cacheable", cacheable),
            Route("/stream", stream_then_write),
            Route("/whoami", whoami),
            Route("/fail", write_then_raise),
            WebSocketRoute("/ws", ws),
        ],
    )
    app.add_middleware(SessionMiddleware, store=store, config=config)
    return app


def set_cookie_attributes(response: httpx2.Response) -> list[dict[str, str]]:
    parsed = []
    for header in response.headers.get_list("set-cookie"):
        name_value, *attrs = (part.strip() for part in header.split(";"))
        entry = {"": name_value}
        for attr in attrs:
            key, _, value = attr.partition("=")
            entry[key.lower()] = value
        parsed.append(entry)
    return parsed


@contextlib.asynccontextmanager
async def asgi_client(
    app: Starlette, store: AsyncSessionStore
) -> AsyncIterator[httpx2.AsyncClient]:
    """An in-process client; ASGITransport runs no lifespan, so the store is closed here."""
    try:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client
    finally:
        await store.aclose()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[AsyncSessionStore]:
    if request.param == "memory":
        yield AsyncMemoryStore()
        return
    request.getfixturevalue("redis_admin")
    # A generous timeout: the 1 000-request tests queue every reply behind one busy event
    # loop on a small CI machine (and wait for one of the pool's connections); these tests
    # are about correctness, not latency.
    url = request.getfixturevalue("redis_url")
    yield AsyncRedisStore.from_url(url, prefix=key_prefix, timeout=10, pool_timeout=60)


@pytest.fixture
def client(store: AsyncSessionStore, config: SessionConfig) -> Iterator[TestClient]:
    with TestClient(make_app(store, config), base_url=BASE) as test_client:
        yield test_client


# ---------------------------------------------------------------------- cookie attributes
def test_cookie_attributes_on_creation(client: TestClient, config: SessionConfig) -> None:
    response = client.get("/write?a=1")
    (cookie,) = set_cookie_attributes(response)
    name, value = cookie[""].split("=", 1)
    assert name == "__Host-session"
    assert len(value) == 43
    assert set(cookie) == {"", "max-age", "path", "secure", "httponly", "samesite"}
    assert cookie["path"] == "/"
    assert cookie["samesite"] == "Lax"
    assert 0 < int(cookie["max-age"]) <= config.absolute_timeout_ms // 1000
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["vary"] == "Cookie"


def test_secure_is_set_over_plain_http(store: AsyncSessionStore, config: SessionConfig) -> None:
    with TestClient(make_app(store, config), base_url="http://testserver") as plain:
        (cookie,) = set_cookie_attributes(plain.get("/write?a=1"))
    assert "secure" in cookie


def test_vary_is_merged_and_cache_control_replaced(client: TestClient) -> None:
    response = client.get("/cacheable")
    assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie"]
    assert response.headers.get_list("cache-control") == ["no-store"]
    again = client.get("/cacheable")  # same session, nothing changed: no cookie, Vary only
    assert "set-cookie" not in again.headers
    assert again.headers.get_list("vary") == ["Accept-Encoding, Cookie"]
    assert again.headers.get_list("cache-control") == ["public, max-age=600"]


def test_a_route_that_ignores_the_session_gets_no_session_headers(client: TestClient) -> None:
    client.get("/write?a=1")
    response = client.get("/untouched")
    assert "set-cookie" not in response.headers
    assert "vary" not in response.headers


# ---------------------------------------------------------------------- lifecycle
def test_data_persists_and_nested_mutation_is_saved(client: TestClient) -> None:
    for item in (1, 2, 3):
        client.get(f"/cart?item={item}")
    assert client.get("/read").json() == {"cart": [1, 2, 3]}


def test_login_rotates_the_id_and_the_old_one_stops_working(client: TestClient) -> None:
    client.get("/write?a=1")
    before = client.cookies["__Host-session"]
    assert client.get("/login?user=alice").json() == {"user": "alice"}
    after = client.cookies["__Host-session"]
    assert after != before
    assert client.get("/read").json() == {"a": "1"}
    stale = client.get("/read", headers={"cookie": f"__Host-session={before}"})
    assert stale.json() == {}


def test_rotate_changes_the_id_and_keeps_the_data(client: TestClient) -> None:
    client.get("/write?a=1")
    before = client.cookies["__Host-session"]
    client.get("/rotate")
    assert client.cookies["__Host-session"] != before
    assert client.get("/read").json() == {"a": "1"}


def test_logout_clears_server_and_cookie(client: TestClient, store: AsyncSessionStore) -> None:
    client.get("/login")
    session_id = client.cookies["__Host-session"]
    response = client.get("/logout")
    (cleared,) = set_cookie_attributes(response)
    assert cleared[""] == "__Host-session="
    assert cleared["max-age"] == "0"
    assert cleared["path"] == "/"
    assert response.headers["cache-control"] == "no-store"
    replay = client.get("/read", headers={"cookie": f"__Host-session={session_id}"})
    assert replay.json() == {}
    if isinstance(store, AsyncMemoryStore):
        assert len(store.engine) == 0


def test_logout_in_redis_deletes_the_record(
    config: SessionConfig, key_prefix: str, redis_url: str, redis_admin: redis.Redis
) -> None:
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    with TestClient(make_app(store, config), base_url=BASE) as client:
        client.get("/login")
        assert len(list(redis_admin.scan_iter(match=f"{key_prefix}:s:*"))) == 1
        assert len(list(redis_admin.scan_iter(match=f"{key_prefix}:u:*"))) == 1  # user index
        client.get("/logout")
        assert list(redis_admin.scan_iter(match=f"{key_prefix}:*")) == []


def test_writing_after_logout_starts_a_new_session(client: TestClient) -> None:
    client.get("/login")
    old = client.cookies["__Host-session"]
    response = client.get("/logout?flash=1")
    (cookie,) = set_cookie_attributes(response)
    assert cookie["max-age"] != "0"
    new = cookie[""].split("=", 1)[1]
    assert new != old
    assert client.get("/read").json() == {"flash": "bye"}


def test_anonymous_logout_writes_nothing(client: TestClient, store: AsyncSessionStore) -> None:
    for _ in range(100):
        response = client.get("/logout")
        assert "set-cookie" not in response.headers
    if isinstance(store, AsyncMemoryStore):
        assert len(store.engine) == 0


def test_expired_session_is_anonymous_and_cleared(store: AsyncSessionStore) -> None:
    clock = FakeClock(1_750_000_000)
    config = session_config(clock=clock, idle_timeout=600, absolute_timeout=3600)
    with TestClient(make_app(store, config), base_url=BASE) as client:
        client.get("/write?a=1")
        clock.advance(600)
        response = client.get("/read")
        assert response.json() == {}
        (cleared,) = set_cookie_attributes(response)
        assert cleared["max-age"] == "0"


# ---------------------------------------------------------------------- failures
def test_store_outage_gives_503_only_where_the_session_is_used(config: SessionConfig) -> None:
    failing = FailingStore()
    with TestClient(make_app(failing, config), base_url=BASE) as client:
        client.get("/write?a=1")
        failing.fail_load = True
        used = client.get("/read")
        assert used.status_code == 503
        assert used.text == "Service Unavailable"
        assert "set-cookie" not in used.headers  # the client's cookie is not overwritten
        assert used.headers["cache-control"] == "no-store"
        assert client.get("/untouched").status_code == 200
        failing.fail_load = False
        assert client.get("/read").json() == {"a": "1"}  # the session survived the outage


def test_failed_commit_gives_503_without_cookie(config: SessionConfig) -> None:
    failing = FailingStore(fail_commit=True)
    with TestClient(make_app(failing, config), base_url=BASE) as client:
        response = client.get("/write?a=1")
        assert response.status_code == 503
        assert "set-cookie" not in response.headers


def test_unreachable_redis_gives_503(config: SessionConfig) -> None:
    store = AsyncRedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, retries=0)
    with TestClient(make_app(store, config), base_url=BASE) as client:
        fake_id = "A" * 42 + "E"
        response = client.get("/read", headers={"cookie": f"__Host-session={fake_id}"})
        assert response.status_code == 503
        assert (
            client.get("/untouched", headers={"cookie": f"__Host-session={fake_id}"}).text == "ok"
        )
        assert client.get("/write?a=1").status_code == 503  # creating needs the store too


@pytest.mark.anyio
async def test_strict_conflicts_answer_409(store: AsyncSessionStore) -> None:
    """Two requests read and increment one field; both hold until both have loaded."""
    arrived = 0
    both_loaded = anyio.Event()

    async def slow_increment(request: StarletteRequest) -> JSONResponse:
        nonlocal arrived
        request.session["n"] = request.session["n"] + 1
        arrived += 1
        if arrived == 2:
            both_loaded.set()
        await both_loaded.wait()
        return JSONResponse({})

    app = make_app(store, session_config(conflict_policy="raise"))
    app.router.routes.append(Route("/slow-increment", slow_increment))
    async with asgi_client(app, store) as client:
        session_id = (await client.get("/write?x=1")).cookies["__Host-session"]
        client.cookies.clear()
        header = {"cookie": f"__Host-session={session_id}"}
        statuses: list[int] = []

        async def hit() -> None:
            statuses.append((await client.get("/slow-increment", headers=header)).status_code)

        await _seed_counter(app, session_id)
        async with anyio.create_task_group() as group:
            group.start_soon(hit)
            group.start_soon(hit)
        final = (await client.get("/read", headers=header)).json()
    assert sorted(statuses) == [200, 409]
    assert final["n"] == 1  # exactly one increment applied, none lost silently


async def _seed_counter(app: Starlette, session_id: str) -> None:
    manager = _find_manager(app)
    cycle = await manager.open([f"__Host-session={session_id}"])
    cycle.session["n"] = 0
    await manager.commit(cycle)


def _find_manager(app: Starlette) -> AsyncSessionManager:
    layer: object = app.middleware_stack
    while layer is not None and not isinstance(layer, SessionMiddleware):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, SessionMiddleware)
    return layer.manager


def test_writes_after_the_response_started_raise(client: TestClient) -> None:
    client.get("/write?a=1")
    with pytest.raises(SessionClosedError):
        client.get("/stream")
    assert "late" not in client.get("/read").json()


def test_writes_after_the_response_started_raise_without_a_cookie_too(
    client: TestClient,
) -> None:
    """No ID presented and the session untouched until the body: no cycle was begun, yet the
    late write raises rather than being lost."""
    with pytest.raises(SessionClosedError):
        client.get("/stream")
    assert "__Host-session" not in client.cookies


def test_a_raise_leaves_the_frameworks_500_when_the_cookie_stays(
    store: AsyncSessionStore, config: SessionConfig
) -> None:
    """Nothing to tell the client: Starlette's own 500 (here its debug page) answers."""
    app = make_app(store, config, debug=True)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        client.get("/login")
        failed = client.get("/fail")
        assert failed.status_code == 500
        assert "RuntimeError" in failed.text  # the traceback page
        assert "set-cookie" not in failed.headers
        assert client.get("/read").json() == {}
        assert client.get("/whoami").json() == {"user": "u1"}


def test_a_raise_after_a_logout_answers_500_with_the_cleared_cookie_then_reraises(
    store: AsyncSessionStore, config: SessionConfig
) -> None:
    with TestClient(make_app(store, config), base_url=BASE) as client:
        token = client.get("/login").cookies["__Host-session"]
        with pytest.raises(RuntimeError, match="the handler failed"):
            client.get("/fail?logout=1")  # the client got the 500; the server sees the error
        client.cookies.clear()
        headers = {"cookie": f"__Host-session={token}"}
        assert client.get("/whoami", headers=headers).json() == {"user": None}
    with TestClient(make_app(AsyncMemoryStore(), config), base_url=BASE) as client:
        client.get("/login")
        with pytest.raises(RuntimeError):
            client.get("/fail?logout=1")
        assert "__Host-session" not in client.cookies  # the 500 cleared it


class CountingManager(AsyncSessionManager):
    """Records the middleware's calls into the manager."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    async def admit(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("admit")
        return await super().admit(*args, **kwargs)

    async def settle(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("settle")
        return await super().settle(*args, **kwargs)

    async def after_response(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append("after_response")
        await super().after_response(*args, **kwargs)


def test_a_request_calls_into_the_core_once_to_open_and_once_to_commit(
    config: SessionConfig,
) -> None:
    manager = CountingManager(AsyncMemoryStore(), config)
    app = Starlette(routes=[Route("/write", write), Route("/read", read)])
    app.add_middleware(SessionMiddleware, manager=manager)
    with TestClient(app, base_url=BASE) as client:
        client.get("/write?a=1")  # no cookie yet: nothing to admit, the new session commits
        assert manager.calls == ["settle", "after_response"]
        manager.calls.clear()
        assert client.get("/read").json() == {"a": "1"}
        assert manager.calls == ["admit", "settle", "after_response"]


def test_an_anonymous_request_that_leaves_its_session_alone_calls_nothing(
    config: SessionConfig,
) -> None:
    """No cookie and an untouched session: no admit, no settle, no cycle, no headers."""
    manager = CountingManager(AsyncMemoryStore(), config)

    async def untouched(request: Request) -> PlainTextResponse:
        assert isinstance(request.scope["session"], Session)  # there (request.session reads)
        return PlainTextResponse("static")

    app = Starlette(routes=[Route("/static", untouched)])
    app.add_middleware(SessionMiddleware, manager=manager)
    with TestClient(app, base_url=BASE) as client:
        reply = client.get("/static")
        head = client.head("/static")
    assert reply.text == "static"
    assert manager.calls == []
    for answer in (reply, head):
        assert "set-cookie" not in answer.headers
        assert "vary" not in answer.headers
        assert "cache-control" not in answer.headers


def test_get_session_needs_the_middleware() -> None:
    with pytest.raises(ConfigurationError, match="SessionMiddleware"):
        get_session({"type": "http"})
    with pytest.raises(ConfigurationError, match="SessionMiddleware"):
        get_session(object())


def test_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="store= and config="):
        SessionMiddleware(untouched)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="AsyncSessionStore"):
        SessionMiddleware(untouched, store=MemoryStore(), config=session_config())  # type: ignore[arg-type]


# ---------------------------------------------------------------------- websocket
def test_websocket_handshake_loads_and_commits(client: TestClient) -> None:
    client.get("/write?a=1")
    header = {"cookie": f"__Host-session={client.cookies['__Host-session']}"}
    with client.websocket_connect("/ws", headers=header) as socket:
        assert socket.receive_json() == {"a": "1", "via_ws": True}
    assert client.get("/read").json() == {"a": "1", "via_ws": True}


def test_a_websocket_session_created_before_accept_sets_its_cookie(client: TestClient) -> None:
    with client.websocket_connect("/ws") as socket:
        assert socket.receive_json() == {"via_ws": True}
        accept_headers = dict(socket.extra_headers or [])
    assert b"set-cookie" in accept_headers


# ---------------------------------------------------------------------- FastAPI
def make_fastapi(store: AsyncSessionStore, config: SessionConfig) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()

    api = FastAPI(lifespan=lifespan)
    api.add_middleware(SessionMiddleware, store=store, config=config)

    @api.get("/visits")
    async def visits(request: Request) -> dict[str, int]:
        request.session["visits"] = request.session.get("visits", 0) + 1
        return {"visits": request.session["visits"]}

    @api.get("/forbidden")
    async def forbidden(request: Request) -> None:
        request.session["tried"] = True
        raise HTTPException(status_code=403, detail="no")

    return api


def test_fastapi_request_session(store: AsyncSessionStore, config: SessionConfig) -> None:
    with TestClient(make_fastapi(store, config), base_url=BASE) as client:
        assert [client.get("/visits").json()["visits"] for _ in range(3)] == [1, 2, 3]


def test_fastapi_http_exception_still_commits(
    store: AsyncSessionStore, config: SessionConfig
) -> None:
    with TestClient(make_fastapi(store, config), base_url=BASE) as client:
        client.get("/visits")
        response = client.get("/forbidden")
        assert response.status_code == 403
        assert client.get("/visits").json() == {"visits": 2}


# ---------------------------------------------------------------------- concurrency
@pytest.mark.anyio
async def test_a_thousand_concurrent_sessions_through_the_app(
    store: AsyncSessionStore, config: SessionConfig
) -> None:
    app = make_app(store, config)
    async with asgi_client(app, store) as client:
        ids = []
        for index in range(1000):
            response = await client.get(f"/write?owner={index}")
            ids.append(response.cookies["__Host-session"])
            client.cookies.clear()

        results: list[dict[str, str]] = [{}] * 1000

        async def check(index: int) -> None:
            response = await client.get(
                f"/write?touch={index}", headers={"cookie": f"__Host-session={ids[index]}"}
            )
            assert response.status_code == 200, (response.status_code, response.text)
            results[index] = response.json()

        async with anyio.create_task_group() as group:
            for index in range(1000):
                group.start_soon(check, index)
    for index, seen in enumerate(results):
        assert seen == {"owner": str(index), "touch": str(index)}


@pytest.mark.anyio
async def test_fifty_concurrent_writers_of_one_session(
    store: AsyncSessionStore, config: SessionConfig
) -> None:
    app = make_app(store, config)
    async with asgi_client(app, store) as client:
        session_id = (await client.get("/write?start=1")).cookies["__Host-session"]
        client.cookies.clear()
        header = {"cookie": f"__Host-session={session_id}"}

        async def write_one(index: int) -> None:
            response = await client.get(f"/write?k{index}={index}", headers=header)
            assert response.status_code == 200

        async with anyio.create_task_group() as group:
            for index in range(50):
                group.start_soon(write_one, index)
        final = (await client.get("/read", headers=header)).json()
    assert {f"k{i}": str(i) for i in range(50)}.items() <= final.items()


def test_secrets_never_reach_the_response_body(client: TestClient) -> None:
    response = client.get("/login")
    session_id = client.cookies["__Host-session"]
    assert session_id not in response.text
    assert secrets.compare_digest(session_id, client.cookies["__Host-session"])
