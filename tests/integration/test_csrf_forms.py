"""CSRF tokens sent in form fields, per adapter (the body stays readable by the application)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from flask import Flask, request
from flask import session as flask_session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient as StarletteClient
from werkzeug.test import Client

from sessionary import CookieOptions, SessionConfig
from sessionary.exceptions import ConfigurationError
from sessionary.integrations import aiohttp as aiohttp_adapter
from sessionary.integrations import asgi, wsgi
from sessionary.integrations.flask import Sessionary, csrf_token
from sessionary.sansio.csrf import CsrfOptions
from sessionary.stores import AsyncMemoryStore, MemoryStore
from sessionary.testing import session_config

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def starlette_client(
    options: CsrfOptions | bool | None = True, config: SessionConfig | None = None
) -> StarletteClient:
    async def token(request: Request) -> JSONResponse:
        return JSONResponse({"token": asgi.csrf_token(request)})

    async def submit(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))  # the replayed body
        return JSONResponse({"x": form.get("x")})

    app = Starlette(routes=[Route("/token", token), Route("/submit", submit, methods=["POST"])])
    app.add_middleware(
        asgi.SessionMiddleware,
        store=AsyncMemoryStore(),
        config=config or session_config(),
        csrf=options,
    )
    return StarletteClient(app, base_url="https://testserver")


def test_asgi_form_field_is_checked_and_the_body_replayed() -> None:
    with starlette_client() as client:
        token = client.get("/token").json()["token"]
        ok = client.post("/submit", content=f"x=1&csrf_token={token}", headers=FORM)
        assert ok.status_code == 200
        assert ok.json() == {"x": "1"}
        assert client.post("/submit", content="x=1", headers=FORM).status_code == 403
        multipart = client.post("/submit", data={"x": "1", "csrf_token": token}, files={"f": b""})
        assert multipart.status_code == 403  # multipart: send the header instead (documented)
        header = client.post("/submit", content="x=2", headers={**FORM, "X-CSRF-Token": token})
        assert header.status_code == 200
        assert header.json() == {"x": "2"}
        # The token is never taken from the query string.
        assert client.post(f"/submit?csrf_token={token}").status_code == 403


def test_asgi_form_body_is_bounded() -> None:
    with starlette_client(CsrfOptions(max_form_bytes=100)) as client:
        token = client.get("/token").json()["token"]
        big = client.post("/submit", content=f"csrf_token={token}&x={'y' * 200}", headers=FORM)
        assert big.status_code == 403


def test_asgi_default_mode_refuses_a_post_without_origin_for_a_samesite_none_cookie() -> None:
    """Origin-only (the default ``csrf=None``) and ``SameSite=None``: the cookie would ride on a
    cross-site form, so a post showing no origin at all is refused; ``Lax`` keeps accepting
    clients that send none (scripts, curl)."""
    none = session_config(cookie=CookieOptions(samesite="none"))
    with starlette_client(None, none) as client:
        assert client.post("/submit", content="x=1", headers=FORM).status_code == 403
        same = {**FORM, "Origin": "https://testserver"}
        assert client.post("/submit", content="x=1", headers=same).status_code == 200
        fetch = {**FORM, "Sec-Fetch-Site": "same-origin"}
        assert client.post("/submit", content="x=1", headers=fetch).status_code == 200
    with starlette_client(None) as client:
        assert client.post("/submit", content="x=1", headers=FORM).status_code == 200


PUBLIC = {"Cache-Control": "public, max-age=600"}


def assert_private(headers: Any) -> None:
    """A shared cache must not keep the response, and must key it by the cookie."""
    assert headers["Cache-Control"] == "no-store"
    assert "cookie" in headers["Vary"].lower()


def test_asgi_a_rendered_token_makes_a_public_page_private() -> None:
    async def page(request: Request) -> JSONResponse:
        request.session["seen"] = True  # a session exists from the first visit on
        return JSONResponse({"token": asgi.csrf_token(request)}, headers=PUBLIC)

    async def public(request: Request) -> JSONResponse:
        return JSONResponse({}, headers=PUBLIC)

    app = Starlette(routes=[Route("/page", page), Route("/public", public)])
    app.add_middleware(
        asgi.SessionMiddleware, store=AsyncMemoryStore(), config=session_config(), csrf=True
    )
    with StarletteClient(app, base_url="https://testserver") as client:
        assert "set-cookie" in client.get("/page").headers
        again = client.get("/page")  # an existing session, nothing written: no Set-Cookie
        assert "set-cookie" not in again.headers
        assert_private(again.headers)
        assert client.get("/public").headers["Cache-Control"] == "public, max-age=600"


def test_flask_a_rendered_token_makes_a_public_page_private() -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = session_config().secrets[0]

    @app.get("/page")
    def page() -> tuple[dict[str, str], dict[str, str]]:
        flask_session["seen"] = True
        return {"token": csrf_token()}, PUBLIC

    Sessionary(app, store=MemoryStore(), config=session_config(), csrf=True)
    client = app.test_client()
    assert "Set-Cookie" in client.get("/page", base_url="https://localhost").headers
    again = client.get("/page", base_url="https://localhost")
    assert "Set-Cookie" not in again.headers
    assert_private(again.headers)


def test_csrf_helpers_need_csrf_enabled() -> None:
    with pytest.raises(ConfigurationError, match="csrf=True"):
        asgi.csrf_token({"type": "http"})
    with pytest.raises(ConfigurationError, match="csrf=True"):
        wsgi.csrf_token({})


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/token":
        body = {"token": wsgi.csrf_token(environ)}
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = dict(parse_qsl(environ["wsgi.input"].read(length).decode()))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def test_wsgi_form_field_and_body_put_back() -> None:
    app = wsgi.SessionMiddleware(_wsgi_app, store=MemoryStore(), config=session_config(), csrf=True)
    client = Client(app)
    token = json.loads(client.get("/token", base_url="https://localhost").get_data())["token"]
    ok = client.post(
        "/submit", data=f"x=1&csrf_token={token}", headers=FORM, base_url="https://localhost"
    )
    assert ok.status_code == 200
    assert json.loads(ok.get_data())["x"] == "1"
    refused = client.post("/submit", data="x=1", headers=FORM, base_url="https://localhost")
    assert refused.status_code == 403
    assert refused.get_data() == b"Forbidden"


def test_flask_form_field_and_template_global() -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = session_config().secrets[0]

    @app.get("/token")
    def token() -> dict[str, str]:
        return {
            "token": csrf_token(),
            "rendered": app.jinja_env.from_string("{{ csrf_token() }}").render(),
        }

    @app.post("/submit")
    def submit() -> dict[str, Any]:
        return {"x": request.form.get("x")}

    Sessionary(app, store=MemoryStore(), config=session_config(), csrf=True)
    client = app.test_client()
    issued = client.get("/token", base_url="https://localhost").json
    assert issued is not None
    assert len(issued["rendered"]) == 86
    ok = client.post(
        "/submit",
        data={"x": "1", "csrf_token": issued["token"]},
        base_url="https://localhost",
    )
    assert ok.status_code == 200
    assert ok.json == {"x": "1"}
    assert client.post("/submit", data={"x": "1"}, base_url="https://localhost").status_code == 403
    evil = client.post(
        "/submit",
        data={"x": "1", "csrf_token": issued["token"]},
        headers={"Origin": "https://evil.example"},
        base_url="https://localhost",
    )
    assert evil.status_code == 403


def test_flask_a_form_too_large_to_read_is_answered_by_flask() -> None:
    """The token field of a form over ``MAX_CONTENT_LENGTH``: Flask's 413, not a 500."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=session_config().secrets[0], MAX_CONTENT_LENGTH=100)

    @app.post("/submit")
    def submit() -> dict[str, Any]:
        return {"x": request.form.get("x")}

    Sessionary(app, store=MemoryStore(), config=session_config(), csrf=True)
    client = app.test_client()
    big = client.post("/submit", data={"x": "y" * 200}, base_url="https://localhost")
    assert big.status_code == 413
    assert "Set-Cookie" not in big.headers


@pytest.mark.anyio
async def test_aiohttp_form_field() -> None:
    async def token(request: web.Request) -> web.Response:
        return web.json_response({"token": aiohttp_adapter.csrf_token(request)})

    async def submit(request: web.Request) -> web.Response:
        return web.json_response({"x": (await request.post()).get("x")})

    app = web.Application()
    app.router.add_get("/token", token)
    app.router.add_post("/submit", submit)
    aiohttp_adapter.setup(app, store=AsyncMemoryStore(), config=session_config(), csrf=True)
    async with TestClient(TestServer(app)) as client:
        first = await client.get("/token")
        issued = await first.json()
        # The jar keeps no Secure cookie for http://127.0.0.1: send the cookie by hand.
        jar = {"Cookie": first.headers["Set-Cookie"].split(";", 1)[0]}
        form = {"x": "1", "csrf_token": issued["token"]}
        ok = await client.post("/submit", data=form, headers=jar)
        assert ok.status == 200
        assert await ok.json() == {"x": "1"}
        refused = await client.post("/submit", data={"x": "1"}, headers=jar)
        assert refused.status == 403
        assert await refused.text() == "Forbidden"
