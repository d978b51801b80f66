"""One session, many frameworks: created in Flask, changed in FastAPI, read in Django.

Same store, same configuration, so the same cookie names the same record everywhere.
"""

from __future__ import annotations

import pytest

from sessionary.testing import session_config
from tests.conformance.driver import AppSpec, Request
from tests.conformance.drivers import aiohttp, django, fastapi, flask, litestar, quart, wsgi

COOKIE = "__Host-session"


def cookie(value: str) -> list[tuple[str, str]]:
    return [("Cookie", f"{COOKIE}={value}")]


def set_cookie_value(headers: list[tuple[str, str]]) -> str:
    for name, value in headers:
        if name == "set-cookie" and value.startswith(f"{COOKIE}="):
            return value.split(";", 1)[0].split("=", 1)[1]
    pytest.fail("no session cookie was set")


def test_flask_then_fastapi_then_django(
    redis_url: str, key_prefix: str, redis_admin: object
) -> None:
    spec = AppSpec("redis", session_config(), redis_url, key_prefix)
    with flask.make_driver(spec) as flask_app:
        created = flask_app.request(Request("POST", "/login?user=ada"))
        token = set_cookie_value(created.headers)
        flask_app.request(Request("POST", "/append?item=1", cookie(token)))

    with fastapi.make_driver(spec) as fastapi_app:
        assert fastapi_app.request(Request("GET", "/whoami", cookie(token))).json == {"user": "ada"}
        changed = fastapi_app.request(Request("POST", "/append?item=2", cookie(token)))
        assert changed.json == {"cart": [1, 2]}

    with django.make_driver(spec) as django_app:
        assert django_app.request(Request("GET", "/read", cookie(token))).json == {
            "data": {"cart": [1, 2]}
        }
        assert django_app.request(Request("GET", "/whoami", cookie(token))).json == {"user": "ada"}


def test_every_adapter_reads_what_every_other_wrote(
    redis_url: str, key_prefix: str, redis_admin: object
) -> None:
    spec = AppSpec("redis", session_config(), redis_url, key_prefix)
    modules = [flask, wsgi, django, aiohttp, fastapi, litestar, quart]
    with flask.make_driver(spec) as first:
        token = set_cookie_value(first.request(Request("POST", "/write?by=flask")).headers)
    expected = {"by": "flask"}
    for module in modules:
        with module.make_driver(spec) as driver:
            assert driver.request(Request("GET", "/read", cookie(token))).json == {
                "data": expected
            }, driver.name
            driver.request(Request("POST", f"/write?{driver.name}=yes", cookie(token)))
            expected = {**expected, driver.name: "yes"}
