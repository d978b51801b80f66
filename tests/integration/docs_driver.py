"""One request through every application a documentation block built.

``tests/integration/test_docs_blocks.py`` runs each Python block of the docs in a process of
its own and appends a call to :func:`drive` (never part of the docs): every Starlette/FastAPI,
Flask, Quart, Litestar, aiohttp, Django or sessionary WSGI application the block left in its
module namespace answers ``GET /`` through its framework's own test client, with no server
error. Each answer
is printed as ``docs-driver: <framework> GET / -> <status>``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from typing import Any

_BASE = "https://localhost"


def _starlette(app: Any) -> int:
    from starlette.testclient import TestClient  # noqa: PLC0415 - only when the block used it

    with TestClient(app, base_url=_BASE) as client:
        return int(client.get("/").status_code)


def _flask(app: Any) -> int:
    return int(app.test_client().get("/", base_url=_BASE).status_code)


def _aiohttp(app: Any) -> int:
    from aiohttp.test_utils import TestClient, TestServer  # noqa: PLC0415

    async def get() -> int:
        async with TestClient(TestServer(app)) as client, client.get("/") as response:
            return int(response.status)

    return asyncio.run(get())


def _quart(app: Any) -> int:
    async def get() -> int:
        response = await app.test_client().get("/", scheme="https")
        return int(response.status_code)

    return asyncio.run(get())


def _litestar(app: Any) -> int:
    from litestar.testing import TestClient  # noqa: PLC0415

    with TestClient(app, base_url="https://localhost.local") as client:
        return int(client.get("/").status_code)


def _wsgi(app: Any) -> int:
    from werkzeug.test import Client  # noqa: PLC0415

    return int(Client(app).get("/", base_url=_BASE).status_code)


def _django() -> int:
    from django.test import Client  # noqa: PLC0415
    from django.test.utils import setup_test_environment  # noqa: PLC0415

    setup_test_environment()  # lets the test client's host in
    return int(Client().get("/", secure=True).status_code)


def _kinds() -> list[tuple[str, type[Any], Callable[[Any], int]]]:
    """(name, application class, driver) for the frameworks the block imported."""
    kinds: list[tuple[str, type[Any], Callable[[Any], int]]] = []
    if "starlette" in sys.modules:
        from starlette.applications import Starlette  # noqa: PLC0415

        kinds.append(("starlette", Starlette, _starlette))
    if "flask" in sys.modules:
        from flask import Flask  # noqa: PLC0415

        kinds.append(("flask", Flask, _flask))
    if "aiohttp.web" in sys.modules:
        from aiohttp import web  # noqa: PLC0415

        kinds.append(("aiohttp", web.Application, _aiohttp))
    if "quart" in sys.modules:
        from quart import Quart  # noqa: PLC0415

        kinds.append(("quart", Quart, _quart))
    if "litestar" in sys.modules:
        from litestar import Litestar  # noqa: PLC0415

        kinds.append(("litestar", Litestar, _litestar))
    if "sessionary.integrations.wsgi" in sys.modules:
        from sessionary.integrations.wsgi import SessionMiddleware  # noqa: PLC0415

        kinds.append(("wsgi", SessionMiddleware, _wsgi))
    return kinds


def drive(namespace: Mapping[str, Any]) -> None:
    """Send ``GET /`` to each application in ``namespace``; exit non-zero on a 5xx."""
    answers: list[tuple[str, int]] = []
    kinds = _kinds()
    for value in list(namespace.values()):
        for name, cls, driver in kinds:
            if isinstance(value, cls):
                answers.append((name, driver(value)))
    if "django.conf" in sys.modules:
        from django.conf import settings  # noqa: PLC0415

        if settings.configured and getattr(settings, "ROOT_URLCONF", None):
            answers.append(("django", _django()))
    for name, status in answers:
        print(f"docs-driver: {name} GET / -> {status}")
    if any(status >= 500 for _, status in answers):
        sys.exit(f"docs-driver: a server error: {answers}")
