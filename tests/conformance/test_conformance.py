"""One conformance suite for every adapter and store (docs/security.md R82).

Each adapter's driver (``tests/conformance/drivers/<adapter>.py``) builds the same standard
application with its framework's own test client; these tests hold for all of them.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import redis

from sessionary import SessionConfig
from sessionary.testing import session_config
from tests.conformance import features
from tests.conformance.driver import AppSpec, Driver, MakeDriver, Reply, Request, StoreKind
from tests.conformance.features import COOKIE, session_cookie

ADAPTERS = [
    "asgi",
    "asgi_nowith",
    "fastapi",
    "flask",
    "wsgi",
    "django",
    "django_async",
    "aiohttp",
    "litestar",
    "quart",
]
CONCURRENT_SESSIONS = 1000

DriverFactory = Callable[..., AbstractContextManager[Driver]]


def _make_driver(adapter: str) -> MakeDriver:
    module = importlib.import_module(f"tests.conformance.drivers.{adapter}")
    factory: MakeDriver = module.make_driver
    return factory


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_driver(adapter: str, request: pytest.FixtureRequest, key_prefix: str) -> DriverFactory:
    """Opens the adapter's standard app on a given store kind and configuration."""
    make = _make_driver(adapter)

    def factory(
        store: StoreKind, config: SessionConfig | None = None, **options: Any
    ) -> AbstractContextManager[Driver]:
        redis_url = ""
        if store == "redis":
            redis_url = request.getfixturevalue("redis_url")
            request.getfixturevalue("redis_admin")  # deletes this test's keys afterwards
        spec = AppSpec(store, config or session_config(), redis_url, key_prefix, **options)
        return make(spec)

    return factory


@pytest.fixture(params=["memory", "redis"])
def driver(request: pytest.FixtureRequest, open_driver: DriverFactory) -> Iterator[Driver]:
    with open_driver(request.param) as running:
        yield running


def cookie_attributes(reply: Reply) -> dict[str, str]:
    (header,) = [h for h in reply.all("set-cookie") if h.startswith(f"{COOKIE}=")]
    attributes = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attributes[key.lower()] = value
    return attributes


def send(driver: Driver, method: str, path: str, cookie: str | None = None) -> Reply:
    headers = [("Cookie", f"{COOKIE}={cookie}")] if cookie else []
    return driver.request(Request(method, path, headers))


def session_keys(redis_url: str, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return list(client.scan_iter(match=f"{prefix}:*"))
    finally:
        client.close()


# ---------------------------------------------------------------------------- the suite
def test_cookie_attributes(driver: Driver) -> None:
    created = send(driver, "POST", "/write?a=1")
    assert created.status == 200
    token = session_cookie(created)
    assert token is not None
    assert len(token) == 43
    attributes = cookie_attributes(created)
    assert {"path", "secure", "httponly", "samesite", "max-age"} <= set(attributes)
    assert attributes["path"] == "/"
    assert attributes["samesite"].lower() == "lax"
    assert "domain" not in attributes
    assert 0 < int(attributes["max-age"]) <= 12 * 3600
    assert created.header("cache-control") == "no-store"
    assert "cookie" in (created.header("vary") or "").lower()


def test_anonymous_requests_write_nothing(
    driver: Driver, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    for method, path in (("GET", "/untouched"), ("GET", "/read"), ("GET", "/whoami")):
        reply = send(driver, method, path)
        assert reply.status == 200
        assert reply.all("set-cookie") == []
    for _ in range(20):
        logout = send(driver, "POST", "/logout")
        assert logout.status == 200
        assert logout.all("set-cookie") == []
    if request.node.callspec.params["driver"] == "redis":
        assert session_keys(request.getfixturevalue("redis_url"), key_prefix) == []


def test_login_rotates_and_the_old_id_stops_working(driver: Driver) -> None:
    first = session_cookie(send(driver, "POST", "/write?cart=1"))
    assert first is not None
    login = send(driver, "POST", "/login?user=ada", first)
    assert login.json == {"user": "ada"}
    second = session_cookie(login)
    assert second is not None
    assert second != first
    assert send(driver, "GET", "/whoami", second).json == {"user": "ada"}
    assert send(driver, "GET", "/read", second).json == {"data": {"cart": "1"}}
    assert send(driver, "GET", "/whoami", first).json == {"user": None}
    assert send(driver, "GET", "/read", first).json == {"data": {}}


def logged_out(driver: Driver, path: str, request: pytest.FixtureRequest, key_prefix: str) -> Reply:
    """Log in, send ``path`` (a logout), check the session and its cookie are gone."""
    token = session_cookie(send(driver, "POST", "/login?user=ada"))
    assert token is not None
    out = send(driver, "POST", path, token)
    cleared = [h for h in out.all("set-cookie") if h.startswith(f"{COOKIE}=")]
    assert len(cleared) == 1
    assert "max-age=0" in cleared[0].lower()
    assert send(driver, "GET", "/whoami", token).json == {"user": None}
    assert send(driver, "GET", "/read", token).json == {"data": {}}
    if request.node.callspec.params["driver"] == "redis":
        assert session_keys(request.getfixturevalue("redis_url"), key_prefix) == []
    return out


def test_logout_clears_server_and_cookie(
    driver: Driver, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    assert logged_out(driver, "/logout", request, key_prefix).status == 200


def test_nested_mutation_is_saved(driver: Driver) -> None:
    token = session_cookie(send(driver, "POST", "/append?item=1"))
    assert token is not None
    for item in (2, 3):
        assert send(driver, "POST", f"/append?item={item}", token).status == 200
    assert send(driver, "GET", "/read", token).json == {"data": {"cart": [1, 2, 3]}}


def test_a_thousand_concurrent_sessions_never_bleed(driver: Driver) -> None:
    created = driver.concurrently(
        [Request("POST", f"/write?owner={i}") for i in range(CONCURRENT_SESSIONS)]
    )
    tokens = [session_cookie(reply) for reply in created]
    assert all(token is not None for token in tokens)
    assert len(set(tokens)) == CONCURRENT_SESSIONS
    read_back = driver.concurrently(
        [Request("GET", "/read", [("Cookie", f"{COOKIE}={token}")]) for token in tokens]
    )
    assert [reply.json["data"]["owner"] for reply in read_back] == [
        str(i) for i in range(CONCURRENT_SESSIONS)
    ]


def test_store_outage_gives_503_only_where_the_session_is_used(
    open_driver: DriverFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sessionary.events")
    with open_driver("down") as driver:
        assert send(driver, "GET", "/untouched").status == 200
        token = "A" * 43
        assert send(driver, "GET", "/untouched", token).status == 200
        failed = send(driver, "GET", "/read", token)
        assert failed.status == 503
        assert failed.all("set-cookie") == []
        assert send(driver, "POST", "/write?a=1").status == 503
    # Each refusal is counted once by the (default, logging) observer.
    refusals = [r for r in caplog.records if "session fail_closed" in r.getMessage()]
    assert len(refusals) == 2


# ------------------------------------------------------- failed requests (one rule for all)
def test_a_raise_commits_none_of_the_handlers_changes(
    driver: Driver, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    token = session_cookie(send(driver, "POST", "/write?a=1"))
    assert token is not None
    failed = send(driver, "POST", "/write-then-raise?a=2&b=3", token)
    assert failed.status == 500
    assert failed.all("set-cookie") == []
    assert send(driver, "GET", "/read", token).json == {"data": {"a": "1"}}
    anonymous = send(driver, "POST", "/write-then-raise?a=1")
    assert anonymous.status == 500
    assert anonymous.all("set-cookie") == []
    if request.node.callspec.params["driver"] == "redis":
        assert len(session_keys(request.getfixturevalue("redis_url"), key_prefix)) == 1


def test_a_5xx_commits_none_of_the_handlers_changes(driver: Driver) -> None:
    token = session_cookie(send(driver, "POST", "/write?a=1"))
    assert token is not None
    failed = send(driver, "POST", "/write-then-500?a=2&b=3", token)
    assert failed.status == 500
    assert failed.json == {"data": {"a": "2", "b": "3"}}  # what the handler saw
    assert failed.all("set-cookie") == []
    assert send(driver, "GET", "/read", token).json == {"data": {"a": "1"}}
    assert session_cookie(send(driver, "POST", "/write-then-500?a=1")) is None


def test_a_logout_holds_when_the_request_fails(
    driver: Driver, request: pytest.FixtureRequest, key_prefix: str
) -> None:
    """The 500 clears the cookie; nothing written after the logout is kept."""
    assert logged_out(driver, "/logout-then-raise", request, key_prefix).status == 500


def test_an_explicit_rotation_holds_when_the_request_fails(driver: Driver) -> None:
    token = session_cookie(send(driver, "POST", "/write?a=1"))
    assert token is not None
    failed = send(driver, "POST", "/rotate-then-raise?a=2", token)
    assert failed.status == 500
    rotated = session_cookie(failed)
    assert rotated not in (None, token)
    assert send(driver, "GET", "/read", rotated).json == {"data": {"a": "1"}}
    assert send(driver, "GET", "/read", token).json == {"data": {}}


def test_commit_on_error_commits_a_failed_requests_changes(open_driver: DriverFactory) -> None:
    features.commit_on_error(open_driver)


# ------------------------------------------------------------- the session is a dict
def test_the_session_answers_as_json_the_frameworks_way(driver: Driver) -> None:
    anonymous = send(driver, "GET", "/json")
    assert anonymous.status == 200
    assert anonymous.json == {}
    assert anonymous.all("set-cookie") == []
    token = session_cookie(send(driver, "POST", "/write?a=1&b=2"))
    assert token is not None
    assert send(driver, "GET", "/json", token).json == {"a": "1", "b": "2"}
    send(driver, "POST", "/append?item=7", token)
    assert send(driver, "GET", "/json", token).json == {"a": "1", "b": "2", "cart": [7]}


def test_dict_operations_behave_as_on_a_dict(driver: Driver) -> None:
    token = session_cookie(send(driver, "POST", "/write?a=1"))
    assert token is not None
    reply = send(driver, "POST", "/dict-ops", token)
    assert reply.status == 200
    assert reply.json == {
        "last": ["y", "2"],
        "equal": True,
        "copy": {"a": "1", "x": "1", "z": "3"},
        "z_in_session": False,
    }
    assert send(driver, "GET", "/read", token).json == {"data": {"a": "1", "x": "1"}}
    fresh = send(driver, "POST", "/dict-ops")
    assert fresh.json["equal"] is True
    created = session_cookie(fresh)
    assert created is not None
    assert send(driver, "GET", "/read", created).json == {"data": {"x": "1"}}


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_login_over_the_session_limit_is_refused_with_403(
    open_driver: DriverFactory, store: StoreKind
) -> None:
    """``reject_new``: every adapter answers the refused login 403 and sets no cookie."""
    with open_driver(store, session_config(max_sessions_per_user=1)) as driver:
        first = session_cookie(send(driver, "POST", "/login?user=ada"))
        assert first is not None
        refused = send(driver, "POST", "/login?user=ada")
        assert refused.status == 403
        assert session_cookie(refused) is None
        assert send(driver, "GET", "/whoami", first).json == {"user": "ada"}


def test_header_transport(open_driver: DriverFactory) -> None:
    features.header_transport(open_driver)


# ------------------------------------------------------------- the sealed cookie store
SEALED_ADAPTERS = [a for a in ADAPTERS if not a.startswith("django")]
"""Django's engine needs server-side session keys; it takes server-side stores only."""


@pytest.mark.parametrize("sealed_adapter", SEALED_ADAPTERS)
def test_sealed_cookie_store(sealed_adapter: str, key_prefix: str) -> None:
    spec = AppSpec("cookie", session_config(), "", key_prefix)
    with _make_driver(sealed_adapter)(spec) as driver:
        assert send(driver, "GET", "/read").all("set-cookie") == []
        created = send(driver, "POST", "/write?a=1&b=2")
        token = session_cookie(created)
        assert token is not None
        assert len(token) > 43  # the session itself, sealed
        attributes = cookie_attributes(created)
        assert {"path", "secure", "httponly", "samesite", "max-age"} <= set(attributes)
        assert created.header("cache-control") == "no-store"
        assert send(driver, "GET", "/read", token).json == {"data": {"a": "1", "b": "2"}}
        login = send(driver, "POST", "/login?user=ada", token)
        rotated = session_cookie(login)
        assert rotated not in (None, token)
        assert send(driver, "GET", "/whoami", rotated).json == {"user": "ada"}
        flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
        for bad in (flipped, token[:-1], token + "AA", "x" * 5000):
            reply = send(driver, "GET", "/read", bad)
            assert reply.status == 200
            assert reply.json == {"data": {}}
        out = send(driver, "POST", "/logout", rotated)
        assert "max-age=0" in (out.header("set-cookie") or "").lower()


# ------------------------------------------------------------------------------- CSRF
@pytest.mark.parametrize("csrf_adapter", SEALED_ADAPTERS)
def test_cross_origin_unsafe_requests_are_refused_by_default(
    csrf_adapter: str, key_prefix: str
) -> None:
    """Without ``csrf=``: the Origin / Sec-Fetch-Site check runs, the token is not required."""
    spec = AppSpec("memory", session_config(), "", key_prefix)
    with _make_driver(csrf_adapter)(spec) as driver:
        same_origin = driver.request(Request("POST", "/write?a=1", []))
        assert same_origin.status == 200
        cookie = session_cookie(same_origin)
        assert cookie is not None
        jar = [("Cookie", f"{COOKIE}={cookie}")]
        for header in (("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")):
            refused = driver.request(Request("POST", "/write?a=2", [*jar, header]))
            assert refused.status == 403
            assert refused.all("set-cookie") == []
            assert driver.request(Request("GET", "/read", [*jar, header])).status == 200
        assert send(driver, "GET", "/read", cookie).json == {"data": {"a": "1"}}
    off = AppSpec("memory", session_config(), "", key_prefix, csrf=False)
    with _make_driver(csrf_adapter)(off) as driver:
        hostile = [("Origin", "https://evil.example")]
        assert driver.request(Request("POST", "/write?a=1", hostile)).status == 200


@pytest.mark.parametrize("csrf_adapter", SEALED_ADAPTERS)
@pytest.mark.parametrize("store", ["memory", "cookie"])
def test_csrf_protection(
    csrf_adapter: str, store: StoreKind, key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec = AppSpec(store, session_config(), "", key_prefix, csrf=True)
    with _make_driver(csrf_adapter)(spec) as driver:
        # A login form gets a pre-session token; the session it is bound to is created.
        form = send(driver, "GET", "/csrf")
        token, cookie = form.json["token"], session_cookie(form)
        assert cookie is not None
        assert len(token) == 86
        assert send(driver, "GET", "/csrf", cookie).json["token"] != token  # masked per response
        jar = [("Cookie", f"{COOKIE}={cookie}")]
        # Unsafe methods need the token; safe methods never do.
        assert send(driver, "GET", "/read", cookie).status == 200
        with caplog.at_level("WARNING", logger="sessionary.events"):
            missing = driver.request(Request("POST", "/write?a=1", jar))
        assert missing.status == 403
        assert missing.body == b"Forbidden"
        assert missing.all("set-cookie") == []
        assert "missing-token" in caplog.text
        assert token not in caplog.text
        wrong = driver.request(Request("POST", "/write?a=1", [*jar, ("X-CSRF-Token", "x" * 86)]))
        assert wrong.status == 403
        login = driver.request(Request("POST", "/login?user=ada", [*jar, ("X-CSRF-Token", token)]))
        assert login.status == 200
        rotated = session_cookie(login)
        assert rotated is not None
        jar = [("Cookie", f"{COOKIE}={rotated}")]
        # The token rotated with the login: the pre-session token no longer works.
        stale = driver.request(Request("POST", "/write?a=1", [*jar, ("X-CSRF-Token", token)]))
        assert stale.status == 403
        fresh = send(driver, "GET", "/csrf", rotated).json["token"]
        ok = driver.request(Request("POST", "/write?a=1", [*jar, ("X-CSRF-Token", fresh)]))
        assert ok.status == 200
        # Origin checks come first, whatever the token.
        good = [*jar, ("X-CSRF-Token", fresh)]
        for header in (("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")):
            refused = driver.request(Request("POST", "/write?a=2", [*good, header]))
            assert refused.status == 403
        latest = session_cookie(ok) or rotated  # the sealed store re-issues its cookie
        assert send(driver, "GET", "/read", latest).json == {"data": {"a": "1"}}
