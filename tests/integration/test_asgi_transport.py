"""ASGI: the header transport, the WebSocket Origin check and the FastAPI dependency."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from sessionary import SessionConfig
from sessionary.integrations.asgi import SessionMiddleware, get_session
from sessionary.integrations.fastapi import CurrentUser, Session
from sessionary.stores import AsyncMemoryStore
from sessionary.testing import session_config

BASE = "https://testserver"


async def write(request: Request) -> JSONResponse:
    for key, value in request.query_params.items():
        request.session[key] = value
    return JSONResponse(dict(request.session))


async def read(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def login(request: Request) -> JSONResponse:
    get_session(request).login(request.query_params["user"])
    return JSONResponse({})


async def logout(request: Request) -> JSONResponse:
    get_session(request).logout()
    return JSONResponse({})


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"user": get_session(websocket).user_id})
    await websocket.close()


def starlette_app(config: SessionConfig, websocket_origins: list[str] | None = None) -> Starlette:
    store = AsyncMemoryStore()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await store.aclose()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/write", write, methods=["POST"]),
            Route("/read", read),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            WebSocketRoute("/ws", ws),
        ],
    )
    app.add_middleware(
        SessionMiddleware, store=store, config=config, websocket_origins=websocket_origins
    )
    return app


@pytest.fixture
def header_client() -> Iterator[TestClient]:
    config = session_config(transport="header")
    with TestClient(starlette_app(config), base_url=BASE) as client:
        yield client


# ------------------------------------------------------------------------ header transport
def test_header_transport_round_trip(header_client: TestClient) -> None:
    created = header_client.post("/write?cart=1")
    token = created.headers["x-session-token"]
    assert len(token) == 43
    assert "set-cookie" not in created.headers
    assert created.headers["vary"] == "X-Session-Token"
    assert created.headers["cache-control"] == "no-store"

    read_back = header_client.get("/read", headers={"X-Session-Token": token})
    assert read_back.json() == {"cart": "1"}
    assert "x-session-token" not in read_back.headers  # unchanged ID: not repeated

    rotated = header_client.post("/login?user=ada", headers={"X-Session-Token": token})
    new_token = rotated.headers["x-session-token"]
    assert new_token not in ("", token)
    assert header_client.get("/read", headers={"X-Session-Token": token}).json() == {}
    assert header_client.get("/read", headers={"X-Session-Token": new_token}).json() == {
        "cart": "1"
    }

    ended = header_client.post("/logout", headers={"X-Session-Token": new_token})
    assert ended.headers["x-session-token"] == ""
    assert header_client.get("/read", headers={"X-Session-Token": new_token}).json() == {}


def test_header_mount_ignores_the_cookie(header_client: TestClient) -> None:
    token = header_client.post("/write?a=1").headers["x-session-token"]
    as_cookie = header_client.get("/read", headers={"Cookie": f"__Host-session={token}"})
    assert as_cookie.json() == {}


def test_conflicting_header_values_are_rejected(header_client: TestClient) -> None:
    first = header_client.post("/write?who=first").headers["x-session-token"]
    second = header_client.post("/write?who=second").headers["x-session-token"]
    both = header_client.get(
        "/read", headers=[("X-Session-Token", first), ("X-Session-Token", second)]
    )
    assert both.json() == {}  # neither value wins
    assert both.headers["x-session-token"] == ""


def test_cookie_mount_ignores_the_header(config: SessionConfig) -> None:
    with TestClient(starlette_app(config), base_url=BASE) as client:
        created = client.post("/write?a=1")
        assert "x-session-token" not in created.headers
        token = client.cookies["__Host-session"]
        client.cookies.clear()
        assert client.get("/read", headers={"X-Session-Token": token}).json() == {}


def test_authorization_session_scheme() -> None:
    config = session_config(transport="header", token_header="Authorization")
    with TestClient(starlette_app(config), base_url=BASE) as client:
        token = client.post("/write?a=1").headers["x-session-token"]
        auth = {"Authorization": f"Session {token}"}
        assert client.get("/read", headers=auth).json() == {"a": "1"}
        bearer = client.get("/read", headers={"Authorization": f"Bearer {token}"})
        assert bearer.json() == {}
        assert client.get("/read", headers={"X-Session-Token": token}).json() == {}


# ------------------------------------------------------------------------ WebSocket Origin
def signed_in(client: TestClient) -> None:
    client.post("/login?user=ada")


def test_websocket_same_origin_is_accepted(config: SessionConfig) -> None:
    with TestClient(starlette_app(config), base_url=BASE) as client:
        signed_in(client)
        headers = {"Origin": "https://testserver"}
        with client.websocket_connect("wss://testserver/ws", headers=headers) as socket:
            assert socket.receive_json() == {"user": "ada"}
        with client.websocket_connect("wss://testserver/ws") as socket:  # no Origin
            assert socket.receive_json() == {"user": "ada"}


def test_websocket_cross_origin_is_refused_before_the_session_loads(
    config: SessionConfig,
) -> None:
    with TestClient(starlette_app(config), base_url=BASE) as client:
        signed_in(client)
        for origin in ("https://evil.example", "http://testserver", "null"):
            with (
                pytest.raises(WebSocketDisconnect) as closed,
                client.websocket_connect(
                    "wss://testserver/ws", headers={"Origin": origin}
                ) as socket,
            ):
                socket.receive_json()
            assert closed.value.code == 1008


def test_websocket_origin_allowlist(config: SessionConfig) -> None:
    app = starlette_app(config, websocket_origins=["https://app.example/"])
    with TestClient(app, base_url=BASE) as client:
        signed_in(client)
        allowed = {"Origin": "https://app.example"}
        with client.websocket_connect("wss://testserver/ws", headers=allowed) as socket:
            assert socket.receive_json() == {"user": "ada"}
        same_host = {"Origin": "https://testserver"}  # not on the list
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect("wss://testserver/ws", headers=same_host) as socket,
        ):
            socket.receive_json()


# ------------------------------------------------------------------------ FastAPI dependency
def fastapi_app(config: SessionConfig) -> FastAPI:
    app = FastAPI()
    app.add_middleware(SessionMiddleware, store=AsyncMemoryStore(), config=config)

    @app.post("/cart")
    async def add(item: int, session: Session) -> list[int]:
        cart: list[int] = session.setdefault("cart", [])
        cart.append(item)
        return cart

    @app.post("/login")
    def sign_in(user: str, session: Session) -> dict[str, str | None]:
        session.login(user)
        return {"user": session.user_id}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"user": user}

    @app.websocket("/ws")
    async def socket(websocket: WebSocket, session: Session) -> None:
        await websocket.accept()
        await websocket.send_json({"user": session.user_id})
        await websocket.close()

    return app


def test_fastapi_session_dependency(config: SessionConfig) -> None:
    with TestClient(fastapi_app(config), base_url=BASE) as client:
        assert client.post("/cart?item=1").json() == [1]
        assert client.post("/cart?item=2").json() == [1, 2]
        assert client.get("/me").status_code == 401
        assert client.post("/login?user=ada").json() == {"user": "ada"}
        assert client.get("/me").json() == {"user": "ada"}
        assert client.post("/cart?item=3").json() == [1, 2, 3]  # data survives login
        with client.websocket_connect("wss://testserver/ws") as socket:
            assert socket.receive_json() == {"user": "ada"}
