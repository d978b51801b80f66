"""The Flask, WSGI, aiohttp, Quart and Litestar example apps work as their docstrings say.

(FastAPI: test_examples_fastapi.py; Django, in its own processes: test_examples_django.py.)
"""

from __future__ import annotations

from typing import cast

import pytest
from aiohttp.test_utils import TestClient, TestServer
from examples import aiohttp_app, flask_app, litestar_app, quart_app, wsgi_app
from quart.testing import QuartClient
from werkzeug.test import Client


@pytest.fixture(autouse=True)
def memory_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSIONARY_STORE", "memory")
    monkeypatch.setenv("SESSION_SECRET", "Zk8wQ3rT6yUi9oPa2sDf5gHj7kLz0xCv4bNm1qWe")


def test_flask_example() -> None:
    client = flask_app.create_app().test_client()
    assert client.post("/count", base_url="https://localhost").status_code == 401
    assert client.post("/login?user=ada", base_url="https://localhost").json == {"user": "ada"}
    assert client.post("/count", base_url="https://localhost").json == {"count": 1}
    assert client.get("/me", base_url="https://localhost").json == {"user": "ada", "count": 1}
    client.post("/logout", base_url="https://localhost")
    assert client.get("/me", base_url="https://localhost").json == {"user": None, "count": 0}


def test_wsgi_example() -> None:
    client = Client(wsgi_app.create_app())
    for expected in (1, 2):
        response = client.post("/count", base_url="https://localhost")
        assert response.json == {"count": expected}
    client.post("/logout", base_url="https://localhost")
    assert client.get("/", base_url="https://localhost").json == {"count": 0}


@pytest.mark.anyio
async def test_aiohttp_example() -> None:
    async with TestClient(TestServer(aiohttp_app.create_app())) as client:
        jar: dict[str, str] = {}

        async def call(method: str, path: str) -> tuple[int, object]:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
            async with client.request(method, path, headers=headers) as response:
                for morsel in response.cookies.values():
                    jar[morsel.key] = morsel.value
                body = await response.json() if response.status == 200 else None
                return response.status, body

        assert (await call("POST", "/count"))[0] == 401
        assert await call("POST", "/login?user=ada") == (200, {"user": "ada"})
        assert await call("POST", "/count") == (200, {"count": 1})
        assert await call("GET", "/me") == (200, {"user": "ada", "count": 1})


@pytest.mark.anyio
async def test_quart_example() -> None:
    client = cast(QuartClient, quart_app.create_app().test_client())  # its jar keeps the cookie

    async def call(method: str, path: str) -> tuple[int, object]:
        response = await client.open(path, method=method, scheme="https")
        return response.status_code, await response.get_json()

    assert (await call("POST", "/count"))[0] == 401
    assert await call("POST", "/login?user=ada") == (200, {"user": "ada"})
    assert await call("POST", "/count") == (200, {"count": 1})
    assert await call("GET", "/me") == (200, {"user": "ada", "count": 1})
    await call("POST", "/logout")
    assert await call("GET", "/me") == (200, {"user": None, "count": 0})


def test_litestar_example() -> None:
    from litestar.testing import TestClient as LitestarClient  # noqa: PLC0415

    with LitestarClient(litestar_app.create_app(), base_url="https://localhost.local") as client:
        assert client.post("/count").status_code == 401
        assert client.post("/login?user=ada").json() == {"user": "ada"}
        assert client.post("/count").json() == {"count": 1}
        assert client.get("/me").json() == {"user": "ada", "count": 1}
        client.post("/logout")
        assert client.get("/me").json() == {"user": None, "count": 0}
