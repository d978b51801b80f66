"""Tenants through the ASGI (memory and sealed cookie store), WSGI, Flask and aiohttp adapters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient as AiohttpClient
from aiohttp.test_utils import TestServer
from flask import Flask, request, session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from sessionary.exceptions import ConfigurationError
from sessionary.integrations import aiohttp as aiohttp_adapter
from sessionary.integrations import wsgi
from sessionary.integrations.asgi import SessionMiddleware, get_session
from sessionary.integrations.flask import Sessionary
from sessionary.stores import AsyncMemoryStore, CookieStore, MemoryStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import session_config

TENANTS = {"a.example.com": "a", "b.example.com": "b"}


async def read(request: Request) -> JSONResponse:
    session = get_session(request)
    return JSONResponse({"data": dict(session), "user": session.user_id})


async def login(request: Request) -> JSONResponse:
    get_session(request).login("ada")
    get_session(request)["tenant_secret"] = request.url.hostname
    return JSONResponse({})


def app_for(store: AsyncSessionStore | CookieStore) -> Starlette:
    app = Starlette(routes=[Route("/", read), Route("/login", login, methods=["POST"])])
    app.add_middleware(SessionMiddleware, store=store, config=session_config(), tenants=TENANTS)
    return app


@pytest.mark.parametrize("kind", ["memory", "cookie"])
def test_a_session_created_under_one_tenant_is_anonymous_under_another(kind: str) -> None:
    store: AsyncSessionStore | CookieStore = (
        AsyncMemoryStore() if kind == "memory" else CookieStore()
    )
    with TestClient(app_for(store), base_url="https://a.example.com") as client:
        created = client.post("/login")
        cookie = created.headers["set-cookie"].split(";", 1)[0]
        own = client.get("/", headers={"Cookie": cookie})
        assert own.json() == {"data": {"tenant_secret": "a.example.com"}, "user": "ada"}
        other = client.get("https://b.example.com/", headers={"Cookie": cookie})
        assert other.json() == {"data": {}, "user": None}
        unknown = client.get("https://evil.example.com/", headers={"Cookie": cookie})
        assert unknown.status_code == 400
        assert unknown.text == "Bad Request"


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    session = wsgi.get_session(environ)
    if environ["REQUEST_METHOD"] == "POST":
        session["tenant_secret"] = environ["HTTP_HOST"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"data": dict(session)}).encode()]


def test_wsgi_tenants() -> None:
    app = wsgi.SessionMiddleware(
        _wsgi_app, store=MemoryStore(), config=session_config(), tenants=TENANTS
    )
    client = Client(app, use_cookies=False)
    created = client.post("/", base_url="https://a.example.com")
    cookie = {"Cookie": created.headers["Set-Cookie"].split(";", 1)[0]}
    own = client.get("/", headers=cookie, base_url="https://a.example.com")
    assert json.loads(own.get_data()) == {"data": {"tenant_secret": "a.example.com"}}
    other = client.get("/", headers=cookie, base_url="https://b.example.com")
    assert json.loads(other.get_data()) == {"data": {}}
    unknown = client.get("/", headers=cookie, base_url="https://evil.example.com")
    assert unknown.status_code == 400


@pytest.mark.anyio
async def test_aiohttp_tenants() -> None:
    async def handler(request: web.Request) -> web.Response:
        session = await aiohttp_adapter.get_session(request)
        if request.method == "POST":
            session["tenant_secret"] = request.host
        return web.json_response({"data": dict(session)})

    app = web.Application()
    app.router.add_route("*", "/", handler)
    aiohttp_adapter.setup(app, store=AsyncMemoryStore(), config=session_config(), tenants=TENANTS)
    async with AiohttpClient(TestServer(app)) as client:
        created = await client.post("/", headers={"Host": "a.example.com"})
        cookie = created.headers["Set-Cookie"].split(";", 1)[0]
        own = await client.get("/", headers={"Host": "a.example.com", "Cookie": cookie})
        assert await own.json() == {"data": {"tenant_secret": "a.example.com"}}
        other = await client.get("/", headers={"Host": "b.example.com", "Cookie": cookie})
        assert await other.json() == {"data": {}}
        unknown = await client.get("/", headers={"Host": "evil.example.com", "Cookie": cookie})
        assert unknown.status == 400


def test_flask_tenants() -> None:
    app = Flask(__name__)

    @app.route("/", methods=["GET", "POST"])
    def view() -> dict[str, Any]:
        if request.method == "POST":
            session["tenant_secret"] = request.host
        return {"data": dict(session)}

    extension = Sessionary(app, store=MemoryStore(), config=session_config(), tenants=TENANTS)
    client = app.test_client(use_cookies=False)
    created = client.post("/", base_url="https://a.example.com")
    cookie = {"Cookie": created.headers["Set-Cookie"].split(";", 1)[0]}
    own = client.get("/", headers=cookie, base_url="https://a.example.com")
    assert own.json == {"data": {"tenant_secret": "a.example.com"}}
    other = client.get("/", headers=cookie, base_url="https://b.example.com")
    assert other.json == {"data": {}}
    unknown = client.post("/", headers=cookie, base_url="https://evil.example.com")
    assert unknown.status_code == 400
    assert "Set-Cookie" not in unknown.headers
    extension.close()


def test_with_tenants_user_operations_must_name_theirs() -> None:
    """Every adapter configured with ``tenants=`` scopes its manager: ``revoke_user("ada")``
    without ``tenant=`` is an error, not a revocation of the empty tenant's user."""
    config = session_config()
    asgi_app = SessionMiddleware(
        Starlette(), store=AsyncMemoryStore(), config=config, tenants=TENANTS
    )
    wsgi_app = wsgi.SessionMiddleware(
        _wsgi_app, store=MemoryStore(), config=config, tenants=TENANTS
    )
    flask_app = Flask(__name__)
    Sessionary(flask_app, store=MemoryStore(), config=config, tenants=TENANTS)
    aiohttp_manager = aiohttp_adapter.setup(
        web.Application(), store=AsyncMemoryStore(), config=config, tenants=TENANTS
    )
    flask_manager = flask_app.session_interface.manager  # type: ignore[attr-defined]
    for sync_manager in (wsgi_app.manager, flask_manager):
        with pytest.raises(ConfigurationError, match="tenant="):
            sync_manager.revoke_user("ada")
        assert sync_manager.revoke_user("ada", tenant="a") == 0
    for async_manager in (asgi_app.manager, aiohttp_manager):
        with pytest.raises(ConfigurationError, match="tenant="):
            asyncio.run(async_manager.revoke_user("ada"))
        assert asyncio.run(async_manager.revoke_user("ada", tenant="a")) == 0
    untenanted = wsgi.SessionMiddleware(_wsgi_app, store=MemoryStore(), config=config)
    assert untenanted.manager.revoke_user("ada") == 0  # no tenants: the empty tenant
