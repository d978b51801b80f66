"""A store URL in the adapters' settings: Flask's and Quart's ``SESSIONARY_STORE_URL``,
Django's ``SESSIONARY["STORE_URL"]``, on SQLite and PostgreSQL, through each framework's test
client.

The session a request writes is read back by another request, and by a store opened
separately on the same database (the database holds it, not the process).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import flask
import pytest
import quart
from django.test import Client, override_settings

from sessionary.backends.sql import sql_store_from_url
from sessionary.integrations import flask as flask_adapter
from sessionary.integrations import quart as quart_adapter
from sessionary.integrations.django import get_runtime
from sessionary.stores import AsyncPostgresStore, AsyncSQLiteStore, PostgresStore, SQLiteStore
from tests.conformance.drivers import django as django_driver
from tests.sql_services import sql_url_with_tables

SECRET = secrets.token_urlsafe(32)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQL store URL of this test's own, its tables created (``sessionary db init``)."""
    return sql_url_with_tables(request, tmp_path)


def _count(url: str) -> int:
    store = sql_store_from_url(url)
    try:
        return store.count()
    finally:
        store.close()


def test_flask_opens_the_store_its_config_names(store_url: str) -> None:
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, SESSIONARY_STORE_URL=store_url)
    ext = flask_adapter.Sessionary(app)

    @app.post("/login")
    def login() -> str:
        flask.session.login("ann")  # type: ignore[attr-defined]
        return "ok"

    @app.get("/whoami")
    def whoami() -> str:
        return flask.session.user_id or ""  # type: ignore[attr-defined]

    try:
        assert isinstance(ext.store, SQLiteStore | PostgresStore)
        client = app.test_client()
        assert client.post("/login", base_url="https://localhost").status_code == 200
        assert client.get("/whoami", base_url="https://localhost").text == "ann"
        assert _count(store_url) == 1
    finally:
        ext.close()


@pytest.mark.anyio
async def test_quart_opens_the_store_its_config_names(store_url: str) -> None:
    app = quart.Quart(__name__)
    app.config.update(SECRET_KEY=SECRET, SESSIONARY_STORE_URL=store_url)
    ext = quart_adapter.Sessionary(app)

    @app.post("/login")
    async def login() -> str:
        quart.session.login("bea")  # type: ignore[attr-defined]
        return "ok"

    @app.get("/whoami")
    async def whoami() -> str:
        return quart.session.user_id or ""  # type: ignore[attr-defined]

    try:
        assert isinstance(ext.store, AsyncSQLiteStore | AsyncPostgresStore)
        client = app.test_client()
        assert (await client.post("/login", scheme="https")).status_code == 200
        reply = await client.get("/whoami", scheme="https")
        assert await reply.get_data(as_text=True) == "bea"
        assert _count(store_url) == 1
    finally:
        await ext.close()


def test_django_opens_the_store_its_settings_name(store_url: str) -> None:
    with override_settings(
        ROOT_URLCONF=django_driver.__name__,
        MIDDLEWARE=django_driver.MIDDLEWARE,
        SESSIONARY={"STORE_URL": store_url},
    ):
        runtime = get_runtime()
        try:
            assert isinstance(runtime.store, SQLiteStore | PostgresStore)
            client = Client()
            assert client.get("/login?user=cy", secure=True).status_code == 200
            reply = client.get("/whoami", secure=True)
            assert json.loads(reply.content) == {"user": "cy"}
            assert _count(store_url) == 1
        finally:
            runtime.close()
