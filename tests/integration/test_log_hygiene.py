"""R79: raw IDs, CSRF tokens and keys never reach logs, exception messages or ``repr()``.

A full lifecycle — anonymous visit, pre-session CSRF token, login, writes, a forged and a
duplicated cookie, a CSRF failure, logout, replay of the old ID — runs through the Flask
adapter on real Redis (and on the sealed cookie store) with every logger at DEBUG; then every
captured record, formatted message, argument and exception text is searched for each secret.
"""

from __future__ import annotations

import base64
import logging
import secrets
from typing import Any

import pytest
import redis
from flask import Flask, request, session

from sessionary.exceptions import SessionTooLargeError
from sessionary.integrations.flask import FlaskSession, Sessionary, csrf_token
from sessionary.sansio.csrf import unmask
from sessionary.stores import CookieStore, RedisStore
from sessionary.stores.base import SessionStore
from sessionary.testing import session_config

BASE = "https://localhost"
COOKIE = "__Host-session"


def _app(store: SessionStore | CookieStore, key: bytes) -> Flask:
    app = Flask(__name__)
    config = session_config(secret_keys=[key], max_size=2048)

    @app.get("/token")
    def token() -> dict[str, str]:
        return {"token": csrf_token()}

    @app.post("/login")
    def login() -> dict[str, Any]:
        current = session._get_current_object()  # type: ignore[attr-defined]
        assert isinstance(current, FlaskSession)
        current.login(request.args["user"])
        return {"ok": True, "repr": repr(current.session), "cycle": repr(current.cycle)}

    @app.post("/write")
    def write() -> dict[str, Any]:
        session["n"] = session.get("n", 0) + 1
        return {"n": session["n"]}

    @app.post("/big")
    def big() -> dict[str, Any]:
        session["blob"] = "x" * 5000
        return {}

    @app.post("/logout")
    def logout() -> dict[str, Any]:
        current = session._get_current_object()  # type: ignore[attr-defined]
        assert isinstance(current, FlaskSession)
        current.logout()
        return {}

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        current = session._get_current_object()  # type: ignore[attr-defined]
        assert isinstance(current, FlaskSession)
        return {"user": current.user_id}

    app.config["TESTING"] = True
    app.config["PROPAGATE_EXCEPTIONS"] = False
    Sessionary(app, store=store, config=config, csrf=True)
    return app


def _cookie(response: Any) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return rest.split(";", 1)[0] or None
    return None


def _lifecycle(app: Flask) -> tuple[set[str], list[str]]:
    """Run the lifecycle; returns every secret seen on the wire, and error texts."""
    client = app.test_client(use_cookies=False)
    seen: set[str] = set()
    errors: list[str] = []

    def call(method: str, path: str, cookie: str | None, token: str | None = None) -> Any:
        headers = {}
        if cookie:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        if token:
            headers["X-CSRF-Token"] = token
        response = client.open(path, method=method, headers=headers, base_url=BASE)
        fresh = _cookie(response)
        if fresh:
            seen.add(fresh)
        return response

    first = call("GET", "/token", None)
    cookie = _cookie(first)
    token = first.json["token"]
    seen.add(token)
    call("POST", "/write", cookie)  # CSRF failure: missing token
    call("POST", "/write", cookie, "A" * 86)  # CSRF failure: bad token
    login = call("POST", "/login?user=ada", cookie, token)
    assert login.status_code == 200
    assert cookie is not None
    assert cookie not in login.get_data(as_text=True)  # R10: no ID in a body
    logged_in = _cookie(login)
    assert logged_in is not None
    token = call("GET", "/token", logged_in).json["token"]
    seen.add(token)
    write = call("POST", "/write", logged_in, token)
    logged_in = _cookie(write) or logged_in
    try:
        call("POST", "/big", logged_in, token)
    except SessionTooLargeError as exc:  # pragma: no cover - Flask turns it into a 500
        errors.append(str(exc))
    forged = logged_in[:-2] + ("AA" if logged_in[-2:] != "AA" else "BA")
    call("GET", "/whoami", forged)
    client.open(  # duplicated cookie with differing values
        "/whoami", headers={"Cookie": f"{COOKIE}={logged_in}; {COOKIE}=x"}, base_url=BASE
    )
    token = call("GET", "/token", logged_in).json["token"]
    seen.add(token)
    out = call("POST", "/logout", logged_in, token)
    assert out.status_code == 200
    assert call("GET", "/whoami", logged_in).json["user"] in (None, "ada")
    seen.update(c for c in (cookie, logged_in, forged) if c)
    return seen, errors


def _forbidden(seen: set[str], key: bytes) -> set[str]:
    out = set(seen)
    for token in list(seen):
        secret = unmask(token)
        if secret is not None:  # the unmasked CSRF secret, in any common encoding
            out |= {secret.hex(), base64.urlsafe_b64encode(secret).decode().rstrip("=")}
    out |= {key.hex(), base64.urlsafe_b64encode(key).decode().rstrip("="), repr(key)}
    return {s for s in out if len(s) >= 16}


def _captured_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
            parts.append(str(record.exc_info[1]))
    return "\n".join(parts)


@pytest.mark.parametrize("kind", ["redis", "cookie"])
def test_a_full_lifecycle_at_debug_leaks_no_id_token_or_key(
    kind: str, request: pytest.FixtureRequest, key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = secrets.token_bytes(32)
    store: SessionStore | CookieStore
    if kind == "redis":
        request.getfixturevalue("redis_admin")  # removes this test's keys afterwards
        store = RedisStore.from_url(request.getfixturevalue("redis_url"), prefix=key_prefix)
    else:
        store = CookieStore()
    caplog.set_level(logging.DEBUG)  # the root logger and everything below it
    app = _app(store, key)
    try:
        seen, errors = _lifecycle(app)
    finally:
        store.close()
    text = _captured_text(caplog.records) + "\n".join(errors)
    assert "csrf_fail" in text  # the failures were logged …
    assert "session created" in text or "created" in text
    for secret in _forbidden(seen, key):
        assert secret not in text  # … without any ID, token or key
    if kind == "redis":
        admin: redis.Redis = request.getfixturevalue("redis_admin")
        dump = b"".join(admin.dump(k) or b"" for k in admin.scan_iter(match=f"{key_prefix}*"))
        dump += b"".join(admin.scan_iter(match=f"{key_prefix}*"))
        for secret in _forbidden(seen, key):
            assert secret.encode() not in dump  # R5: nor in the store
