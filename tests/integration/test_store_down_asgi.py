"""Store-down policies through the ASGI adapter, against a Redis URL nobody listens on.

``fail_closed`` (default): routes that use the session answer 503 without ``Set-Cookie``;
``fail_open_readonly`` (per application or per route): the handler sees an empty read-only
session. Both are counted by the observer (events ``fail_closed``/``fail_open_readonly``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from sessionary import ConfigurationError, SessionConfig, StoreDownPolicy
from sessionary.exceptions import StoreUnavailableError
from sessionary.integrations.asgi import (
    Receive,
    Scope,
    Send,
    SessionMiddleware,
    StoreDownChoice,
)
from sessionary.sansio.ids import mint_token
from sessionary.stores import AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import session_config
from tests.failover import RecordingObserver
from tests.scripted_stores import FailingStore
from tests.services import free_port

BASE = "https://testserver"
COOKIE = "__Host-session"


async def read(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def write(request: Request) -> JSONResponse:
    request.session["seen"] = True
    return JSONResponse(dict(request.session))


async def untouched(request: Request) -> PlainTextResponse:
    return PlainTextResponse("static")


def public_pages(scope: Scope) -> StoreDownPolicy | None:
    """Per route: the public pages may be served read-only; the rest follows the config."""
    path: str = scope["path"]
    return StoreDownPolicy.FAIL_OPEN_READONLY if path.startswith("/public/") else None


def down_store() -> AsyncRedisStore:
    return AsyncRedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, retries=0)


def make_client(
    store: AsyncSessionStore,
    observer: RecordingObserver,
    config: SessionConfig | None = None,
    store_down: StoreDownChoice | None = None,
) -> TestClient:
    app = Starlette(
        routes=[
            Route("/public/read", read),
            Route("/public/write", write),
            Route("/account", read),
            Route("/write", write),
            Route("/static", untouched),
        ]
    )
    app.add_middleware(
        SessionMiddleware,
        store=store,
        config=config or session_config(),
        observer=observer,
        store_down=store_down,
    )
    client = TestClient(app, base_url=BASE)
    client.headers["cookie"] = f"{COOKIE}={mint_token().value}"  # a well-formed ID: a load
    return client


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def per_route(observer: RecordingObserver) -> Iterator[TestClient]:
    with make_client(down_store(), observer, store_down=public_pages) as client:
        yield client


def test_a_public_route_is_served_read_only(
    per_route: TestClient, observer: RecordingObserver
) -> None:
    response = per_route.get("/public/read")
    assert response.status_code == 200
    assert response.json() == {}
    assert "set-cookie" not in response.headers  # the client's cookie is left alone
    assert observer.events == {"fail_open_readonly": 1}


def test_a_write_on_a_read_only_route_is_refused(
    per_route: TestClient, observer: RecordingObserver
) -> None:
    response = per_route.get("/public/write")
    assert response.status_code == 503
    assert "set-cookie" not in response.headers
    assert observer.events == {"fail_open_readonly": 1, "fail_closed": 1}


def test_other_routes_fail_closed(per_route: TestClient, observer: RecordingObserver) -> None:
    for path in ("/account", "/write"):
        response = per_route.get(path)
        assert response.status_code == 503
        assert "set-cookie" not in response.headers
    assert observer.events == {"fail_closed": 2}
    assert per_route.get("/static").text == "static"  # never touches the session
    assert observer.events == {"fail_closed": 2}


@pytest.mark.parametrize(
    ("config", "store_down"),
    [
        (session_config(store_down="fail_open_readonly"), None),  # the application's config
        (session_config(), "fail_open_readonly"),  # the middleware, for every route
        (session_config(), StoreDownPolicy.FAIL_OPEN_READONLY),
    ],
)
def test_an_application_wide_read_only_policy(
    config: SessionConfig, store_down: StoreDownChoice | None, observer: RecordingObserver
) -> None:
    with make_client(down_store(), observer, config, store_down) as client:
        assert client.get("/account").json() == {}
        assert client.get("/write").status_code == 503
    assert observer.events == {"fail_open_readonly": 2, "fail_closed": 1}


def test_a_route_can_fail_closed_under_a_read_only_application(
    observer: RecordingObserver,
) -> None:
    def strict_account(scope: Scope) -> str | None:
        return "fail_closed" if scope["path"] == "/account" else None

    config = session_config(store_down="fail_open_readonly")
    with make_client(down_store(), observer, config, strict_account) as client:
        assert client.get("/account").status_code == 503
        assert client.get("/public/read").status_code == 200


def test_a_failed_commit_is_counted_as_fail_closed(observer: RecordingObserver) -> None:
    with make_client(FailingStore(fail_commit=True), observer) as client:
        del client.headers["cookie"]  # a new session: the load is skipped, the create fails
        response = client.get("/write")
    assert response.status_code == 503
    assert "set-cookie" not in response.headers
    assert observer.events["fail_closed"] == 1


def test_bad_store_down_choices_are_refused(observer: RecordingObserver) -> None:
    for bad in ("fail_open", 42):
        with pytest.raises(ConfigurationError, match="store_down"):
            SessionMiddleware(
                Starlette(),
                store=FailingStore(),
                config=session_config(),
                store_down=bad,  # type: ignore[arg-type]
            )
    client = make_client(FailingStore(fail_load=True), observer, store_down=lambda s: "nope")
    with client, pytest.raises(ConfigurationError, match="store_down"):
        client.get("/account")


# ------------------------------------------------- the wiring does not change the answer
def outage_app(framework: str) -> Starlette:
    """The application, in Starlette or FastAPI, with a route that reads the session."""
    if framework == "starlette":
        return Starlette(routes=[Route("/account", read)])
    api = FastAPI()
    api.add_api_route("/account", read)
    return api


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
@pytest.mark.parametrize("wiring", ["add_middleware", "wraps_the_app"])
def test_an_outage_answers_503_however_the_middleware_is_wired(
    framework: str, wiring: str, observer: RecordingObserver
) -> None:
    """``app.add_middleware(...)`` and ``SessionMiddleware(app, ...)`` answer alike.

    Wrapped whole, the app's own ServerErrorMiddleware would answer the handler's
    StoreUnavailableError 500 before sessionary sees it.
    """
    app = outage_app(framework)
    options: dict[str, Any] = {"store": down_store(), "config": session_config()}
    asgi: Any = app
    if wiring == "add_middleware":
        app.add_middleware(SessionMiddleware, observer=observer, **options)
    else:
        asgi = SessionMiddleware(app, observer=observer, **options)
    with TestClient(asgi, base_url=BASE, raise_server_exceptions=False) as client:
        client.headers["cookie"] = f"{COOKIE}={mint_token().value}"
        response = client.get("/account")
    assert response.status_code == 503
    assert response.text == "Service Unavailable"
    assert "set-cookie" not in response.headers
    assert observer.events["fail_closed"] == 1


def test_a_wrapped_apps_own_outage_handler_is_kept(observer: RecordingObserver) -> None:
    async def maintenance(request: Request, error: Exception) -> PlainTextResponse:
        return PlainTextResponse("maintenance", status_code=503)

    app = Starlette(routes=[Route("/account", read)])
    app.add_exception_handler(StoreUnavailableError, maintenance)
    wrapped = SessionMiddleware(app, store=down_store(), config=session_config())
    with TestClient(wrapped, base_url=BASE) as client:
        client.headers["cookie"] = f"{COOKIE}={mint_token().value}"
        response = client.get("/account")
    assert (response.status_code, response.text) == (503, "maintenance")


async def answers_its_own_500(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app (no exception handlers) that answers any error 500 itself."""
    try:
        body = json.dumps(dict(scope["session"])).encode()
        status = 200
    except StoreUnavailableError:
        body, status = b"oops", 500
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_a_500_for_the_sessions_outage_is_answered_503(observer: RecordingObserver) -> None:
    wrapped = SessionMiddleware(
        answers_its_own_500, store=down_store(), config=session_config(), observer=observer
    )
    client = TestClient(wrapped, base_url=BASE)  # no lifespan: the app serves HTTP only
    client.headers["cookie"] = f"{COOKIE}={mint_token().value}"
    response = client.get("/account")
    assert (response.status_code, response.text) == (503, "Service Unavailable")
    assert "set-cookie" not in response.headers
    assert observer.events["fail_closed"] == 1


async def socket_reads_the_session(websocket: WebSocket) -> None:
    dict(websocket.session)  # before accept: the outage ends the handshake
    await websocket.accept()


@pytest.mark.parametrize("wiring", ["add_middleware", "wraps_the_app"])
def test_a_websocket_outage_still_reaches_the_server(wiring: str) -> None:
    """The 503 handler a wrapped app gets answers HTTP only; a handshake fails as before."""
    app = Starlette(routes=[WebSocketRoute("/ws", socket_reads_the_session)])
    options: dict[str, Any] = {"store": down_store(), "config": session_config()}
    asgi: Any = app
    if wiring == "add_middleware":
        app.add_middleware(SessionMiddleware, **options)
    else:
        asgi = SessionMiddleware(app, **options)
    client = TestClient(asgi, base_url=BASE)
    headers = {"cookie": f"{COOKIE}={mint_token().value}"}
    with pytest.raises(StoreUnavailableError), client.websocket_connect("/ws", headers=headers):
        pass
