"""docs/deploy.md, "HTTPS in front": behind a TLS-terminating proxy, the application sees
``https`` only from the proxies it trusts.

The session cookie is ``Secure`` whatever the scheme, but the origin check compares the
browser's ``Origin`` (``https://app.example``) with the request's own scheme and host: behind a
proxy that speaks plain HTTP to the application, the server must take the scheme from
``X-Forwarded-Proto``, and only from the proxy's address (uvicorn ``--proxy-headers
--forwarded-allow-ips``, werkzeug's ``ProxyFix`` for WSGI), or any client could claim https.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from sessionary.integrations import asgi
from sessionary.integrations.flask import Sessionary
from sessionary.stores import AsyncMemoryStore, MemoryStore
from sessionary.testing import session_config

PROXY = "10.0.0.2"
CLIENT = "203.0.113.7"
SITE = "https://app.example"
BROWSER_POST = {"Origin": SITE, "Host": "app.example", "X-Forwarded-Proto": "https"}


def _starlette(**config: Any) -> Any:  # an ASGI application, typed loosely for uvicorn's
    async def write(request: Request) -> JSONResponse:
        asgi.get_session(request)["a"] = "1"
        return JSONResponse({"scheme": request.url.scheme})

    app = Starlette(routes=[Route("/write", write, methods=["POST"])])
    store = AsyncMemoryStore()
    app.add_middleware(asgi.SessionMiddleware, store=store, config=session_config(**config))
    return app


def _post_from(peer: str, app: Any) -> httpx2.Response:
    async def post() -> httpx2.Response:
        transport = httpx2.ASGITransport(app, client=(peer, 40000))
        async with httpx2.AsyncClient(transport=transport, base_url="http://app.example") as http:
            response: httpx2.Response = await http.post("/write", headers=BROWSER_POST)
            return response

    return asyncio.run(post())


def test_asgi_behind_a_trusted_proxy_sees_https_and_accepts_the_browsers_post() -> None:
    app = ProxyHeadersMiddleware(_starlette(), trusted_hosts=[PROXY])  # uvicorn --proxy-headers
    through_proxy = _post_from(PROXY, app)
    assert through_proxy.status_code == 200
    assert through_proxy.json() == {"scheme": "https"}
    assert "Secure" in through_proxy.headers["set-cookie"]


def test_asgi_a_client_that_is_not_the_proxy_cannot_claim_https() -> None:
    app = ProxyHeadersMiddleware(_starlette(), trusted_hosts=[PROXY])
    direct = _post_from(CLIENT, app)  # the same headers, from an address that is no proxy
    assert direct.status_code == 403  # http://app.example is not the https Origin
    assert "set-cookie" not in direct.headers


def test_asgi_hsts_only_for_https_the_trusted_proxy_reports() -> None:
    hsts = "max-age=63072000; includeSubDomains"
    app = ProxyHeadersMiddleware(_starlette(strict_transport_security=hsts), trusted_hosts=[PROXY])
    through_proxy = _post_from(PROXY, app)
    assert through_proxy.status_code == 200
    assert through_proxy.headers["strict-transport-security"] == hsts
    direct = _post_from(CLIENT, app)  # claims https, is no proxy: plain HTTP, no HSTS
    assert "strict-transport-security" not in direct.headers


def test_asgi_without_proxy_headers_the_https_origin_is_refused() -> None:
    assert _post_from(PROXY, _starlette()).status_code == 403  # why the recipe is needed


def _flask(proxies: int) -> Flask:
    app = Flask(__name__)

    @app.post("/write")
    def write() -> dict[str, str]:
        from flask import session  # noqa: PLC0415

        session["a"] = "1"
        return {"scheme": request.scheme}

    Sessionary(app, store=MemoryStore(), config=session_config())
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=proxies)  # type: ignore[method-assign]
    return app


def test_wsgi_behind_one_proxy_with_proxyfix_sees_https() -> None:
    client = _flask(proxies=1).test_client()
    posted = client.post("/write", headers=BROWSER_POST, base_url="http://app.example")
    assert posted.status_code == 200
    assert posted.json == {"scheme": "https"}
    plain = _flask(proxies=0).test_client()
    refused = plain.post("/write", headers=BROWSER_POST, base_url="http://app.example")
    assert refused.status_code == 403
