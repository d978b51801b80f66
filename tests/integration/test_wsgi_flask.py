"""WSGI and Flask specifics beyond the conformance suite: lazy start_response, late writes,
commit failures (503/409), Flask's configuration mapping and session object."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request, session
from flask.sessions import SessionMixin
from werkzeug.test import Client

from sessionary import ConfigurationError, SessionClosedError
from sessionary.exceptions import SessionTooLargeError
from sessionary.integrations.flask import FlaskSession, Sessionary, config_from_flask
from sessionary.integrations.wsgi import SessionMiddleware, StartResponse, get_session
from sessionary.sansio.ids import mint_token
from sessionary.stores import MemoryStore, RedisStore
from sessionary.testing import session_config
from tests.failover import RecordingObserver
from tests.scripted_stores import SyncFailingStore
from tests.services import free_port

BASE = "https://localhost"
SECRET = "Zk8wQ3rT6yUi9oPa2sDf5gHj7kLz0xCv4bNm1qWe"


# ------------------------------------------------------------------------------ WSGI
def lazy_app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
    """A generator app: start_response is called only when iteration begins."""
    get_session(environ)["n"] = get_session(environ).get("n", 0) + 1
    start_response("200 OK", [("Content-Type", "text/plain"), ("Vary", "Accept")])
    yield b"first "
    yield b"second"


def late_writer(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body() -> Iterator[bytes]:
        yield b"headers are gone"
        get_session(environ)["late"] = True  # after the commit: must raise, not vanish

    return body()


def test_wsgi_lazy_start_response_still_commits_first() -> None:
    client = Client(SessionMiddleware(lazy_app, store=MemoryStore(), config=session_config()))
    response = client.get("/", base_url=BASE)
    assert response.get_data() == b"first second"
    assert response.headers["Set-Cookie"].startswith("__Host-session=")
    assert response.headers["Vary"] == "Accept, Cookie"


def test_wsgi_a_late_write_raises() -> None:
    app = SessionMiddleware(late_writer, store=MemoryStore(), config=session_config())
    with pytest.raises(SessionClosedError):
        Client(app).get("/", base_url=BASE).get_data()


@pytest.mark.parametrize(("flag", "status"), [("fail_commit", 503), ("conflict", 409)])
def test_wsgi_commit_failures(flag: str, status: int) -> None:
    store = SyncFailingStore()
    app = SessionMiddleware(lazy_app, store=store, config=session_config(conflict_policy="raise"))
    client = Client(app)
    client.get("/", base_url=BASE)
    setattr(store, flag, True)
    response = client.get("/", base_url=BASE)
    assert response.status_code == status
    assert "Set-Cookie" not in response.headers
    assert response.get_data() in (b"Service Unavailable", b"Conflict")


def test_wsgi_needs_a_store_and_config_and_a_session() -> None:
    with pytest.raises(ConfigurationError):
        SessionMiddleware(lazy_app)
    with pytest.raises(ConfigurationError, match="SessionMiddleware installed"):
        get_session({})


def test_wsgi_header_transport() -> None:
    config = session_config(transport="header")
    client = Client(SessionMiddleware(lazy_app, store=MemoryStore(), config=config))
    token = client.get("/", base_url=BASE).headers["X-Session-Token"]
    again = client.get("/", base_url=BASE, headers={"X-Session-Token": token})
    assert "X-Session-Token" not in again.headers  # same session, same ID
    assert again.status_code == 200


# ------------------------------------------------------------------------------ Flask
def flask_app(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, **config)

    @app.post("/set")
    def set_value() -> dict[str, Any]:
        session["cart"] = [1]
        session["cart"].append(2)
        session["writes"] = session.get("writes", 0) + 1
        session.modified = True  # Flask's idiom: accepted, not needed
        current = session._get_current_object()  # type: ignore[attr-defined]
        assert isinstance(current, FlaskSession)
        return {"new": current.new, "len": len(current), "permanent": current.permanent}

    @app.get("/get")
    def get_value() -> dict[str, Any]:
        current = session._get_current_object()  # type: ignore[attr-defined]
        assert isinstance(current, FlaskSession)
        return {
            "cart": session.get("cart"),
            "has": "cart" in session,
            "keys": list(current),
            "user": current.user_id,
        }

    @app.post("/login")
    def login() -> dict[str, Any]:
        current = session._get_current_object()  # type: ignore[attr-defined]
        current.login("ada")
        current.rotate()
        return {"user": current.user_id}

    @app.post("/clear")
    def clear() -> dict[str, Any]:
        session.permanent = False
        del session["cart"]
        assert "cart" not in session
        session.clear()
        return {}

    @app.post("/logout")
    def logout() -> dict[str, Any]:
        session._get_current_object().logout()  # type: ignore[attr-defined]
        return {}

    return app


def test_flask_session_object() -> None:
    app = flask_app()
    Sessionary(app, store=MemoryStore())
    client = app.test_client()
    assert client.post("/set", base_url=BASE).json == {"new": True, "len": 2, "permanent": True}
    got = client.get("/get", base_url=BASE).json
    assert got == {"cart": [1, 2], "has": True, "keys": ["cart", "writes"], "user": None}
    assert client.post("/login", base_url=BASE).json == {"user": "ada"}
    client.post("/clear", base_url=BASE)
    assert (client.get("/get", base_url=BASE).json or {})["keys"] == []
    client.post("/logout", base_url=BASE)
    assert (client.get("/get", base_url=BASE).json or {})["user"] is None


def test_flask_extension_init_app_pattern_and_default_store() -> None:
    extension = Sessionary()
    app = flask_app()
    extension.init_app(app)
    assert app.extensions["sessionary"] is extension
    assert isinstance(extension.store, MemoryStore)
    assert app.test_client().post("/set", base_url=BASE).status_code == 200
    extension.close()


@pytest.mark.parametrize(("flag", "status"), [("fail_commit", 503), ("conflict", 409)])
def test_flask_commit_failures(flag: str, status: int) -> None:
    store = SyncFailingStore()
    app = flask_app()
    Sessionary(app, store=store, config=session_config(conflict_policy="raise"))
    client = app.test_client()
    client.post("/set", base_url=BASE)
    setattr(store, flag, True)
    response = client.post("/set", base_url=BASE)
    assert response.status_code == status
    assert "Set-Cookie" not in response.headers


def test_flask_config_mapping() -> None:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=SECRET,
        SECRET_KEY_FALLBACKS=["Yh6tR4eW2qA9sD8fG7hJ5kL3zX1cV0bNmQpWoEiRuT"],
        SESSION_COOKIE_NAME="__Host-app",
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=20),
    )
    config = config_from_flask(app)
    assert config.cookie.name == "__Host-app"
    assert config.cookie.samesite == "strict"
    assert config.cookie.secure
    assert config.idle_timeout_ms == 20 * 60 * 1000
    assert len(config.secrets) == 2

    default = Flask(__name__)
    default.config["SECRET_KEY"] = SECRET
    assert config_from_flask(default).cookie.name == "__Host-session"

    explicit = Flask(__name__)
    explicit.config.update(
        SESSIONARY_SECRET_KEYS=[SECRET],
        SESSION_COOKIE_NAME="dev-session",
        SESSION_COOKIE_SECURE=False,
        SESSIONARY_INSECURE_DEVELOPMENT_MODE=True,
        SESSIONARY_IDLE_TIMEOUT=60,
        SESSIONARY_ABSOLUTE_TIMEOUT=dt.timedelta(hours=1),
    )
    relaxed = config_from_flask(explicit)
    assert not relaxed.cookie.secure
    assert relaxed.idle_timeout_ms == 60_000
    assert relaxed.absolute_timeout_ms == 3_600_000


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": SECRET, "SESSION_COOKIE_SAMESITE": "sideways"}, "SAMESITE"),
        ({"SECRET_KEY": SECRET, "SESSIONARY_IDLE_TIMEOUT": "long"}, "seconds"),
        ({"SECRET_KEY": SECRET, "SESSION_COOKIE_HTTPONLY": False}, "SESSION_COOKIE_HTTPONLY"),
        (
            {"SECRET_KEY": SECRET, "SESSION_COOKIE_DOMAIN": "example.com"},
            "must not set a domain.*set SESSION_COOKIE_NAME",
        ),
        (
            {"SECRET_KEY": SECRET, "SESSION_COOKIE_PATH": "/app"},
            "requires path='/'.*set SESSION_COOKIE_NAME",
        ),
    ],
    ids=["no-secret", "bad-samesite", "bad-timeout", "httponly-off", "host-domain", "host-path"],
)
def test_flask_config_errors(settings: dict[str, Any], message: str) -> None:
    app = Flask(__name__)
    app.config.update(settings)
    with pytest.raises(ConfigurationError, match=message):
        config_from_flask(app)


def test_flask_cookie_path_falls_back_to_application_root() -> None:
    """As Flask's ``get_cookie_path``; a ``__Host-`` cookie is always for the whole host."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET, APPLICATION_ROOT="/shop")
    assert config_from_flask(app).cookie.path == "/"  # the default name: __Host-session
    app.config["SESSION_COOKIE_NAME"] = "__Secure-shop"
    assert config_from_flask(app).cookie.path == "/shop"
    app.config["SESSION_COOKIE_PATH"] = "/shop/cart"
    assert config_from_flask(app).cookie.path == "/shop/cart"
    app.config["SESSION_COOKIE_DOMAIN"] = "example.com"
    assert config_from_flask(app).cookie.domain == "example.com"


def test_flask_reports_a_session_too_large_once(caplog: pytest.LogCaptureFixture) -> None:
    """Flask saves the session again for its 500: one error in the log, the real one."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = SECRET

    @app.post("/big")
    def big() -> dict[str, Any]:
        session["blob"] = "x" * 5000
        return {}

    Sessionary(app, store=MemoryStore(), config=session_config(max_size=2048))
    with caplog.at_level("ERROR"):
        response = app.test_client().post("/big", base_url=BASE)
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is SessionTooLargeError
    assert "finish() must be called once" not in caplog.text


def test_flask_session_is_a_dict() -> None:
    app = flask_app()
    seen: dict[str, Any] = {}

    @app.post("/dict")
    def as_dict() -> Any:
        proxy: Any = session  # flask.session, as views use it
        current = proxy._get_current_object()
        seen.update(
            is_dict=isinstance(proxy, dict),
            is_mixin=isinstance(current, SessionMixin),
            json=json.loads(json.dumps(current)),
        )
        proxy |= {"b": 2, "c": 3}
        seen["last"] = proxy.popitem()
        seen["copy"] = proxy.copy()
        return jsonify(current)

    Sessionary(app, store=MemoryStore())
    client = app.test_client()
    client.post("/set", base_url=BASE)
    response = client.post("/dict", base_url=BASE)
    assert response.json == {"cart": [1, 2], "writes": 1, "b": 2}
    assert seen == {
        "is_dict": True,
        "is_mixin": True,
        "json": {"cart": [1, 2], "writes": 1},
        "last": ("c", 3),
        "copy": {"cart": [1, 2], "writes": 1, "b": 2},
    }
    assert (client.get("/get", base_url=BASE).json or {})["keys"] == ["cart", "writes", "b"]


def test_flask_a_propagated_error_still_commits_the_logout() -> None:
    """``PROPAGATE_EXCEPTIONS`` (tests): no response is saved; the logout still holds."""
    app = flask_app(TESTING=True)

    @app.post("/logout-then-raise")
    def logout_then_raise() -> dict[str, Any]:
        session._get_current_object().logout()  # type: ignore[attr-defined]
        session["after"] = True
        raise RuntimeError

    Sessionary(app, store=MemoryStore())
    client = app.test_client()
    client.post("/login", base_url=BASE)
    assert (client.get("/get", base_url=BASE).json or {})["user"] == "ada"
    with pytest.raises(RuntimeError):
        client.post("/logout-then-raise", base_url=BASE)
    assert client.get("/get", base_url=BASE).json == {
        "cart": None,
        "has": False,
        "keys": [],
        "user": None,
    }


def test_wsgi_wrapping_a_flask_app_answers_an_outage_503() -> None:
    """Flask answers the session's StoreUnavailableError 500 before the middleware sees it."""
    app = Flask(__name__)

    @app.get("/account")
    def account() -> dict[str, Any]:
        return dict(get_session(request.environ))

    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2, retries=0)
    observer = RecordingObserver()
    app.wsgi_app = SessionMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, store=store, config=session_config(), observer=observer
    )
    cookie = f"__Host-session={mint_token().value}"
    client = app.test_client(use_cookies=False)
    response = client.get("/account", base_url=BASE, headers={"Cookie": cookie})
    assert (response.status_code, response.get_data()) == (503, b"Service Unavailable")
    assert "Set-Cookie" not in response.headers
    assert observer.events["fail_closed"] == 1


def raising_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    session = get_session(environ)
    if environ["PATH_INFO"] in ("/login", "/whoami"):
        if environ["PATH_INFO"] == "/login":
            session.login("ada")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(session.user_id).encode()]
    if environ["PATH_INFO"] == "/logout-then-raise":
        session.logout()
    session["written"] = True
    raise RuntimeError(environ["PATH_INFO"])


def test_wsgi_a_raise_is_left_to_the_server_unless_the_cookie_must_change() -> None:
    app = SessionMiddleware(raising_app, store=MemoryStore(), config=session_config())
    client = Client(app, use_cookies=False)
    with pytest.raises(RuntimeError, match="/write-then-raise"):
        client.get("/write-then-raise", base_url=BASE)  # the server answers its 500
    token = {"Cookie": client.get("/login", base_url=BASE).headers["Set-Cookie"].split(";")[0]}
    assert client.get("/whoami", base_url=BASE, headers=token).get_data() == b"ada"
    response = client.get("/logout-then-raise", base_url=BASE, headers=token)
    assert response.status_code == 500
    assert "Max-Age=0" in response.headers["Set-Cookie"]  # the logout reaches the client
    with pytest.raises(RuntimeError, match="/logout-then-raise"):
        response.get_data()  # then the error goes on to the server, which logs it
    response.close()
    assert client.get("/whoami", base_url=BASE, headers=token).get_data() == b"None"


@pytest.mark.parametrize("configured", ["argument", "app.config"])
def test_flask_commit_on_error(configured: str) -> None:
    app = flask_app()
    if configured == "app.config":
        app.config["SESSIONARY_COMMIT_ON_ERROR"] = True

    @app.post("/write-then-500")
    def write_then_500() -> tuple[dict[str, Any], int]:
        session["failed"] = True
        return {}, 500

    Sessionary(app, store=MemoryStore(), commit_on_error=True if configured == "argument" else None)
    client = app.test_client()
    client.post("/set", base_url=BASE)
    assert client.post("/write-then-500", base_url=BASE).status_code == 500
    assert (client.get("/get", base_url=BASE).json or {})["keys"] == ["cart", "writes", "failed"]
