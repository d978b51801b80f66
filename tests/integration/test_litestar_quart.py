"""Litestar and Quart specifics beyond the conformance suite.

Litestar: ``request.set_session()`` / ``request.clear_session()`` (Litestar's own calls) act on
sessionary's session, ``config.middleware`` works without the plugin, the typed dependency.
Quart: the settings are read from ``app.config`` as the Flask adapter reads them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from litestar.testing import TestClient
from quart import Quart, session, websocket

from sessionary.integrations.litestar import Session, SessionaryConfig, SessionaryPlugin
from sessionary.integrations.quart import Sessionary
from sessionary.stores import AsyncMemoryStore
from sessionary.testing import session_config
from tests.conformance.driver import Request as SuiteRequest
from tests.conformance.drivers.asgi import asgi_websocket

COOKIE = "__Host-session"
AnyRequest = Request[Any, Any, Any]


@dataclass
class Profile:
    """A value Litestar's ``set_session`` accepts besides a ``dict``."""

    name: str
    langs: list[str]


@post("/replace", status_code=200)
async def replace(request: AnyRequest) -> dict[str, Any]:
    request.set_session({"only": "this"})
    return {}


@post("/profile", status_code=200)
async def profile(request: AnyRequest) -> dict[str, Any]:
    request.set_session(Profile("ada", ["en", "fr"]))
    return {}


@post("/write", status_code=200)
async def write(session: Session) -> dict[str, Any]:
    session["a"] = "1"
    session["b"] = "2"
    return {}


@post("/clear", status_code=200)
async def clear(request: AnyRequest) -> dict[str, Any]:
    request.clear_session()
    return {}


@get("/read")
async def read(request: AnyRequest) -> dict[str, Any]:
    return {"data": dict(request.session), "typed": type(request.session).__name__}


HANDLERS = [replace, profile, write, clear, read]


def cookie_of(response: Any) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return str(rest.split(";", 1)[0])
    return None


@pytest.fixture(params=["plugin", "middleware"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient[Litestar]]:
    config = SessionaryConfig(store=AsyncMemoryStore(), config=session_config())
    if request.param == "plugin":
        app = Litestar(HANDLERS, plugins=[SessionaryPlugin(config)], logging_config=None)
    else:  # Litestar's idiom for its own session configs; no dependency, the store left open
        handlers = [replace, profile, clear, read]
        app = Litestar(handlers, middleware=[config.middleware], logging_config=None)
    with TestClient(app, base_url="https://testserver.local") as test_client:
        yield test_client


def send(client: TestClient[Litestar], method: str, path: str, token: str | None) -> Any:
    client.cookies.clear()
    headers = {"Cookie": f"{COOKIE}={token}"} if token else {}
    return client.request(method, path, headers=headers)


def test_set_session_replaces_the_sessions_contents(client: TestClient[Litestar]) -> None:
    token = cookie_of(send(client, "POST", "/profile", None))
    assert token is not None
    read_back = send(client, "GET", "/read", token).json()
    assert read_back == {"data": {"name": "ada", "langs": ["en", "fr"]}, "typed": "Session"}
    assert cookie_of(send(client, "POST", "/replace", token)) is None  # the same session
    assert send(client, "GET", "/read", token).json()["data"] == {"only": "this"}


def test_clear_session_logs_out(client: TestClient[Litestar]) -> None:
    token = cookie_of(send(client, "POST", "/replace", None))
    assert token is not None
    cleared = send(client, "POST", "/clear", token)
    assert f"{COOKIE}=;" in cleared.headers["set-cookie"]
    assert "Max-Age=0" in cleared.headers["set-cookie"]
    assert send(client, "GET", "/read", token).json()["data"] == {}


def test_the_typed_dependency_is_the_request_session() -> None:
    config = SessionaryConfig(store=AsyncMemoryStore(), config=session_config())
    app = Litestar(HANDLERS, plugins=[SessionaryPlugin(config)], logging_config=None)
    with TestClient(app, base_url="https://testserver.local") as test_client:
        token = cookie_of(send(test_client, "POST", "/write", None))
        assert send(test_client, "GET", "/read", token).json()["data"] == {"a": "1", "b": "2"}


# ------------------------------------------------------------------------------ Quart
@pytest.mark.anyio
async def test_quart_reads_flasks_settings() -> None:
    app = Quart(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME="__Secure-sid",
        SESSION_COOKIE_SAMESITE="Strict",
        SESSIONARY_CSRF=False,
    )

    @app.post("/write")
    async def write_view() -> dict[str, str]:
        session["a"] = "1"
        return {}

    extension = Sessionary(app, store=AsyncMemoryStore())
    client = app.test_client(use_cookies=False)
    reply = await client.post("/write", scheme="https", headers={"Origin": "https://evil.example"})
    assert reply.status_code == 200  # SESSIONARY_CSRF=False: no origin check
    cookie = reply.headers["Set-Cookie"]
    assert cookie.startswith("__Secure-sid=")
    assert "SameSite=Strict" in cookie
    await extension.close()


@pytest.mark.anyio
async def test_quart_closes_a_foreign_handshake_1008_where_it_cannot_answer_403() -> None:
    """Without the ``websocket.http.response`` extension the refusal is a close, as ASGI's."""
    app = Quart(__name__)

    @app.websocket("/ws")
    async def socket() -> None:  # pragma: no cover - refused before it runs
        await websocket.accept()

    extension = Sessionary(app, store=AsyncMemoryStore(), config=session_config())
    evil = SuiteRequest("GET", "/ws", [("Origin", "https://evil.example")])
    refused = await asgi_websocket(app, evil)  # a scope without extensions
    assert (refused.accepted, refused.code) == (False, 1008)
    await extension.close()
