"""What each request option does, proved through one adapter's standard application.

Each function takes ``open_app(store, config=None, **spec)`` — the adapter's driver for an
:class:`~tests.conformance.driver.AppSpec` with these fields — and asserts the feature's
behaviour from the client's side only. ``test_matrix.py`` runs every feature through every
adapter; ``test_conformance.py`` runs some of them under their historical names.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sessionary import SessionConfig
from sessionary.sansio.csrf import ORIGIN_ONLY
from sessionary.sansio.ids import mint_token
from sessionary.testing import session_config
from tests.conformance.driver import Driver, Reply, Request, StoreKind

OpenApp = Callable[..., AbstractContextManager[Driver]]
COOKIE = "__Host-session"
TENANTS = {"a.example.com": "a", "b.example.com": "b"}
FORM = ("Content-Type", "application/x-www-form-urlencoded")
CONCURRENT_INCREMENTS = 6


def session_cookie(reply: Reply) -> str | None:
    """The session cookie's value a reply sets, if any."""
    for header in reply.all("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            return rest.split(";", 1)[0]
    return None


def jar(cookie: str | None) -> list[tuple[str, str]]:
    """The ``Cookie`` header presenting ``cookie``."""
    return [("Cookie", f"{COOKIE}={cookie}")] if cookie else []


def _open(open_app: OpenApp, store: StoreKind = "memory", **spec: Any) -> Any:
    config: SessionConfig | None = spec.pop("config", None)
    return open_app(store, config, **spec)


# ------------------------------------------------------------------------------ features
def lock(open_app: OpenApp) -> None:
    """``lock=`` (a function of the request): concurrent read-modify-writes of one session
    run one after the other, so no increment is lost; unlocked routes stay as they were."""
    with _open(open_app, lock_paths=("/increment",)) as driver:
        cookie = session_cookie(driver.request(Request("POST", "/write?a=1")))
        assert cookie is not None
        steps = [Request("POST", "/increment", jar(cookie))] * CONCURRENT_INCREMENTS
        replies = driver.concurrently(steps)
        assert [reply.status for reply in replies] == [200] * CONCURRENT_INCREMENTS
        assert sorted(reply.json["n"] for reply in replies) == list(
            range(1, CONCURRENT_INCREMENTS + 1)
        )
        read = driver.request(Request("GET", "/read", jar(cookie)))
        assert read.json == {"data": {"a": "1", "n": CONCURRENT_INCREMENTS}}


def store_down(open_app: OpenApp) -> None:
    """``store_down=`` (a function of the request): ``/read`` is served read-only while the
    store is down, every other route that uses the session fails closed (503); no cookie."""
    with _open(open_app, "down", read_only_paths=("/read",)) as driver:
        presented = jar(mint_token().value)  # a well-formed ID: the store is asked
        read_only = driver.request(Request("GET", "/read", presented))
        assert (read_only.status, read_only.json) == (200, {"data": {}})
        assert read_only.all("set-cookie") == []
        for method, path in (("GET", "/whoami"), ("POST", "/write?a=1")):
            closed = driver.request(Request(method, path, presented))
            assert closed.status == 503
            assert closed.all("set-cookie") == []


def csrf_token(open_app: OpenApp) -> None:
    """``csrf=True``: unsafe requests need the token, from the header or a form field."""
    with _open(open_app, csrf=True) as driver:
        form = driver.request(Request("GET", "/csrf"))
        token, cookie = form.json["token"], session_cookie(form)
        assert cookie is not None
        missing = driver.request(Request("POST", "/write?a=1", jar(cookie)))
        assert (missing.status, missing.body) == (403, b"Forbidden")
        assert missing.all("set-cookie") == []
        wrong = [*jar(cookie), ("X-CSRF-Token", "x" * 86)]
        assert driver.request(Request("POST", "/write?a=1", wrong)).status == 403
        header = [*jar(cookie), ("X-CSRF-Token", token)]
        created = driver.request(Request("POST", "/write?a=1", header))
        assert created.status == 200
        cookie = session_cookie(created) or cookie  # the session replaces the pre-session ID
        body = f"b=2&csrf_token={token}".encode()
        posted = driver.request(Request("POST", "/write?b=2", [*jar(cookie), FORM], body))
        assert posted.status == 200
        assert posted.json == {"data": {"a": "1", "b": "2"}}
        unsigned = driver.request(Request("POST", "/write?c=3", [*jar(cookie), FORM], b"c=3"))
        assert unsigned.status == 403


def _origin_checked(driver: Driver) -> None:
    created = driver.request(Request("POST", "/write?a=1"))  # no Origin: not a browser
    assert created.status == 200
    cookie = session_cookie(created)
    assert cookie is not None
    for header in (("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")):
        refused = driver.request(Request("POST", "/write?a=2", [*jar(cookie), header]))
        assert (refused.status, refused.body) == (403, b"Forbidden")
        assert refused.all("set-cookie") == []
        safe = driver.request(Request("GET", "/read", [*jar(cookie), header]))
        assert safe.json == {"data": {"a": "1"}}
    same = [*jar(cookie), ("Sec-Fetch-Site", "same-origin")]
    assert driver.request(Request("POST", "/write?a=3", same)).status == 200


def origin_check(open_app: OpenApp) -> None:
    """By default (``csrf`` not given) unsafe cross-origin requests are refused 403."""
    with _open(open_app) as driver:
        _origin_checked(driver)


def origin_check_opted_in(open_app: OpenApp) -> None:
    """Django keeps ``CsrfViewMiddleware`` by default; ``SESSIONARY["CSRF"]`` set to the
    origin-only options turns sessionary's origin check on."""
    with _open(open_app) as driver:  # the default: sessionary checks nothing
        hostile = [("Origin", "https://evil.example")]
        assert driver.request(Request("POST", "/write?a=1", hostile)).status == 200
    with _open(open_app, csrf=ORIGIN_ONLY) as driver:
        _origin_checked(driver)


def tenants(open_app: OpenApp) -> None:
    """``tenants=``: the session of one tenant is anonymous under another; a host without a
    tenant is answered 400, without a cookie."""
    with _open(open_app, tenants=TENANTS) as driver:
        host_a, host_b = ("Host", "a.example.com"), ("Host", "b.example.com")
        created = driver.request(Request("POST", "/write?secret=a", [host_a]))
        cookie = session_cookie(created)
        assert cookie is not None
        own = driver.request(Request("GET", "/read", [*jar(cookie), host_a]))
        assert own.json == {"data": {"secret": "a"}}
        other = driver.request(Request("GET", "/read", [*jar(cookie), host_b]))
        assert other.json == {"data": {}}
        unknown = driver.request(Request("POST", "/write?x=1", [("Host", "evil.example.com")]))
        assert (unknown.status, unknown.body) == (400, b"Bad Request")
        assert unknown.all("set-cookie") == []


def header_transport(open_app: OpenApp) -> None:
    """``transport="header"``: the ID comes and goes in ``X-Session-Token``, never a cookie."""
    with _open(open_app, config=session_config(transport="header")) as driver:
        created = driver.request(Request("POST", "/write?a=1"))
        token = created.header("x-session-token")
        assert token is not None
        assert len(token) == 43
        assert created.all("set-cookie") == []
        header = [("X-Session-Token", token)]
        assert driver.request(Request("GET", "/read", header)).json == {"data": {"a": "1"}}
        cookie = [("Cookie", f"{COOKIE}={token}")]
        assert driver.request(Request("GET", "/read", cookie)).json == {"data": {}}
        login = driver.request(Request("POST", "/login?user=ada", header))
        rotated = login.header("x-session-token")
        assert rotated not in (None, "", token)
        assert driver.request(Request("GET", "/whoami", header)).json == {"user": None}


def websocket_origin(open_app: OpenApp) -> None:
    """A WebSocket handshake from a foreign ``Origin`` is refused before the session loads;
    by default the application's own origin is allowed, ``websocket_origins=`` replaces it."""
    with _open(open_app) as driver:
        assert driver.serves_websockets
        cookie = session_cookie(driver.request(Request("POST", "/write?a=1")))
        own = driver.websocket(
            Request("GET", "/ws", [*jar(cookie), ("Origin", driver.socket_origin)])
        )
        assert own.accepted
        assert own.message == {"data": {"a": "1"}}
        assert driver.websocket(Request("GET", "/ws", jar(cookie))).accepted  # not a browser
        evil = [*jar(cookie), ("Origin", "https://evil.example")]
        refused = driver.websocket(Request("GET", "/ws", evil))
        assert not refused.accepted
        assert refused.code in (1008, 403)  # ASGI closes 1008; aiohttp answers the handshake
    with _open(open_app, websocket_origins=("https://app.example",)) as driver:
        listed = driver.websocket(Request("GET", "/ws", [("Origin", "https://app.example")]))
        assert listed.accepted
        assert not driver.websocket(
            Request("GET", "/ws", [("Origin", driver.socket_origin)])
        ).accepted


def commit_on_error(open_app: OpenApp) -> None:
    """``commit_on_error=True``: a failed request's changes are committed like a success's."""
    with _open(open_app, commit_on_error=True) as driver:
        token = session_cookie(driver.request(Request("POST", "/write?a=1")))
        assert token is not None
        assert driver.request(Request("POST", "/write-then-raise?a=2", jar(token))).status == 500
        assert driver.request(Request("GET", "/read", jar(token))).json == {"data": {"a": "2"}}
        assert driver.request(Request("POST", "/write-then-500?b=3", jar(token))).status == 500
        read = driver.request(Request("GET", "/read", jar(token)))
        assert read.json == {"data": {"a": "2", "b": "3"}}


def signed_in_cache_control(open_app: OpenApp) -> None:
    """A response that used a signed-in session gets ``Cache-Control: no-store`` unless the
    application set its own; anonymous reads stay cacheable; configurable, ``None`` is off."""
    with _open(open_app) as driver:
        anonymous = session_cookie(driver.request(Request("POST", "/write?a=1")))
        assert anonymous is not None
        read = driver.request(Request("GET", "/read", jar(anonymous)))
        assert (read.status, read.header("cache-control")) == (200, None)
        cookie = session_cookie(driver.request(Request("POST", "/login?user=carol")))
        assert cookie is not None
        page = driver.request(Request("GET", "/whoami", jar(cookie)))
        assert page.json == {"user": "carol"}
        assert page.header("cache-control") == "no-store"
        assert "cookie" in (page.header("vary") or "").lower()
        own = driver.request(Request("GET", "/whoami?cache=private%2C+max-age%3D60", jar(cookie)))
        assert own.header("cache-control") == "private, max-age=60"
        untouched = driver.request(Request("GET", "/untouched", jar(cookie)))
        assert untouched.header("cache-control") is None  # the session was not used
    custom = session_config(signed_in_cache_control="private, no-cache")
    with _open(open_app, config=custom) as driver:
        cookie = session_cookie(driver.request(Request("POST", "/login?user=carol")))
        page = driver.request(Request("GET", "/whoami", jar(cookie)))
        assert page.header("cache-control") == "private, no-cache"
    with _open(open_app, config=session_config(signed_in_cache_control=None)) as driver:
        cookie = session_cookie(driver.request(Request("POST", "/login?user=carol")))
        page = driver.request(Request("GET", "/whoami", jar(cookie)))
        assert page.header("cache-control") is None


STS = "max-age=63072000; includeSubDomains"
STS_HEADER = "strict-transport-security"


def strict_transport_security(open_app: OpenApp) -> None:
    """``strict_transport_security``: every response to an HTTPS request carries it (one
    that never touches the session, a login, a refusal), unless the application set its
    own; never a response over plain HTTP; off by default."""
    with _open(open_app) as driver:
        default = driver.request(Request("GET", "/untouched", scheme="https"))
        assert (default.status, default.header(STS_HEADER)) == (200, None)
    config = session_config(strict_transport_security=STS)
    with _open(open_app, config=config, tenants=TENANTS) as driver:
        host = [("Host", "a.example.com")]
        untouched = driver.request(Request("GET", "/untouched", host, scheme="https"))
        assert (untouched.status, untouched.header(STS_HEADER)) == (200, STS)
        login = driver.request(Request("POST", "/login?user=carol", host, scheme="https"))
        cookie = session_cookie(login)
        assert cookie is not None
        assert login.header(STS_HEADER) == STS
        signed_in = [*host, *jar(cookie)]
        own = driver.request(Request("GET", "/whoami?sts=max-age%3D0", signed_in, scheme="https"))
        assert (own.json, own.header(STS_HEADER)) == ({"user": "carol"}, "max-age=0")
        unknown = [("Host", "unknown.example.com")]
        refused = driver.request(Request("GET", "/untouched", unknown, scheme="https"))
        assert (refused.status, refused.header(STS_HEADER)) == (400, STS)
        plain = driver.request(Request("GET", "/whoami", signed_in, scheme="http"))
        assert (plain.json, plain.header(STS_HEADER)) == ({"user": "carol"}, None)
        plain_login = driver.request(Request("POST", "/login?user=dan", host, scheme="http"))
        assert session_cookie(plain_login) is not None
        assert plain_login.header(STS_HEADER) is None
