"""The WSGI variants: Flask and Django applications with each session library (or none).

* ``no-session`` (Flask and Django): the same routes, no session (the baselines).
* ``sessionary-memory`` / ``sessionary-redis``: :mod:`sessionary.integrations.flask`.
* ``flask-cookie``: Flask's built-in signed-cookie session (client side).
* ``flask-session-redis``: Flask-Session's ``RedisSessionInterface``.
* ``raw-redis-py``: Flask handlers doing the minimal Redis work by hand.
* ``django-cache``: ``django.contrib.sessions.backends.cache`` on Django's ``RedisCache``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import redis
from flask import Flask, request, session
from tests.redis_counting import CountingRedis

from benchmarks._harness import Counters
from benchmarks._variants import PROFILE, RACE_PAUSE_S, RAW_TTL_S, USER, Variant
from sessionary import SessionConfig
from sessionary.config import CookieOptions
from sessionary.integrations.flask import Sessionary
from sessionary.stores import MemoryStore, RedisStore

Hook = Callable[[MutableMapping[str, Any]], None]


def flask_app(login: Hook | None, logout: Hook | None) -> Flask:
    """A Flask app serving the benchmark routes (no session at all when ``login`` is None)."""
    app = Flask(f"bench-{secrets.token_hex(4)}")
    app.secret_key = secrets.token_hex(32)
    app.config["SESSION_COOKIE_SECURE"] = True
    if login is None or logout is None:
        for path in ("/anonymous", "/read", "/write", "/login"):
            app.add_url_rule(path, path, lambda: "ok", methods=["GET", "POST"])
        return app
    on_login, on_logout = login, logout

    @app.get("/anonymous")
    def anonymous() -> str:
        return "ok"

    @app.get("/read")
    def read() -> str:
        return str(session.get("count", 0))

    @app.post("/write")
    def write() -> str:
        session["count"] = session.get("count", 0) + 1
        return str(session["count"])

    @app.post("/login")
    def do_login() -> str:
        on_login(session)
        session["count"] = 0
        session["profile"] = PROFILE
        return "ok"

    @app.post("/race/write")
    def race_write() -> str:
        session.get("count")
        time.sleep(RACE_PAUSE_S)
        session[request.args["k"]] = 1
        return "ok"

    @app.post("/race/logout")
    def race_logout() -> str:
        session.get("count")
        time.sleep(RACE_PAUSE_S)
        on_logout(session)
        return "ok"

    @app.get("/dump")
    def dump() -> str:
        return ",".join(sorted(session))

    @app.post("/fill")
    def fill() -> str:
        session["data"] = "x" * int(request.args["n"])
        return "ok"

    return app


def _set_user(s: MutableMapping[str, Any]) -> None:
    s["user"] = USER


def _clear(s: MutableMapping[str, Any]) -> None:
    s.clear()


# ------------------------------------------------------------------------- sessionary
def _sessionary_login(s: MutableMapping[str, Any]) -> None:
    s.login(USER)  # type: ignore[attr-defined]  # flask.session is sessionary's FlaskSession


def _sessionary_logout(s: MutableMapping[str, Any]) -> None:
    s.logout()  # type: ignore[attr-defined]


def sessionary_variants(url: str, prefix: str, admin: redis.Redis) -> list[Variant]:
    """sessionary's Flask extension with the memory store and with the Redis store."""
    client = CountingRedis.from_url(url)
    assert isinstance(client, CountingRedis)
    redis_store = RedisStore(client, prefix=f"syw-{prefix}")
    redis_store.warm_up()
    variants = []
    for name, store, counters in (
        ("sessionary-memory", MemoryStore(), Counters(admin)),
        ("sessionary-redis", redis_store, Counters(admin, lambda: client.round_trips)),
    ):
        app = flask_app(_sessionary_login, _sessionary_logout)
        config = SessionConfig(secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions())
        Sessionary(app, store=store, config=config)
        variants.append(Variant(name, "flask", "wsgi", app, counters, server_side=True))
    variants[-1].closers.append(client.close)
    variants[-1].redis_prefix = f"syw-{prefix}"
    return variants


# ---------------------------------------------------------------------- alternatives
def flask_cookie_variant(admin: redis.Redis) -> Variant:
    """Flask's built-in signed-cookie session."""
    app = flask_app(_set_user, _clear)
    return Variant("flask-cookie", "flask", "wsgi", app, Counters(admin), server_side=False)


def flask_session_variant(url: str, prefix: str, admin: redis.Redis) -> Variant:
    """Flask-Session with its Redis interface (regenerates the ID at login)."""
    from flask_session import Session  # noqa: PLC0415 - optional dependency

    client = CountingRedis.from_url(url)
    assert isinstance(client, CountingRedis)
    holder: list[Flask] = []

    def login(s: MutableMapping[str, Any]) -> None:
        holder[0].session_interface.regenerate(s)  # type: ignore[attr-defined]
        s["user"] = USER

    app = flask_app(login, _clear)
    holder.append(app)
    app.config.update(
        SESSION_TYPE="redis",
        SESSION_REDIS=client,
        SESSION_KEY_PREFIX=f"fls-{prefix}:",
        SESSION_SERIALIZATION_FORMAT="json",
    )
    Session(app)
    return Variant(
        "flask-session-redis",
        "flask",
        "wsgi",
        app,
        Counters(admin, lambda: client.round_trips),
        server_side=True,
        closers=[client.close],
        redis_prefix=f"fls-{prefix}",
    )


def raw_variant(url: str, prefix: str, admin: redis.Redis) -> Variant:
    """Flask handlers doing the minimal Redis work by hand (sync redis-py)."""
    client = CountingRedis.from_url(url)
    assert isinstance(client, CountingRedis)
    app = Flask(f"bench-raw-{secrets.token_hex(4)}")

    def key() -> str:
        return f"raw-{prefix}:{request.cookies['sid']}"

    def hgetall(name: str) -> dict[bytes, bytes]:
        return dict(client.hgetall(name))  # type: ignore[arg-type]

    def store(name: str, fields: dict[Any, Any]) -> None:
        with client.pipeline(transaction=False) as pipe:
            pipe.hset(name, mapping=fields)
            pipe.expire(name, RAW_TTL_S)
            pipe.execute()
        client.sent.append("PIPELINE")  # pipelines bypass execute_command: one round trip

    @app.get("/anonymous")
    def anonymous() -> str:
        return "ok"

    @app.get("/read")
    def read() -> str:
        return hgetall(key()).get(b"count", b"0").decode()

    @app.post("/write")
    def write() -> str:
        name = key()
        count = int(hgetall(name).get(b"count", b"0")) + 1
        store(name, {"count": count})
        return str(count)

    @app.post("/login")
    def login() -> Any:
        old = key() if "sid" in request.cookies else None
        fields: dict[Any, Any] = dict(hgetall(old)) if old else {}
        fields.update({"user": USER, "count": 0, "profile": repr(PROFILE)})
        sid = secrets.token_urlsafe(32)
        name = f"raw-{prefix}:{sid}"
        with client.pipeline(transaction=False) as pipe:
            if old:
                pipe.delete(old)
            pipe.hset(name, mapping=fields)
            pipe.expire(name, RAW_TTL_S)
            pipe.execute()
        client.sent.append("PIPELINE")  # pipelines bypass execute_command: one round trip
        response = app.make_response("ok")
        response.set_cookie("sid", sid, httponly=True, secure=True, samesite="Lax")
        return response

    @app.post("/race/write")
    def race_write() -> str:
        name = key()
        client.hgetall(name)
        time.sleep(RACE_PAUSE_S)
        store(name, {request.args["k"]: 1})
        return "ok"

    @app.post("/race/logout")
    def race_logout() -> str:
        name = key()
        client.hgetall(name)
        time.sleep(RACE_PAUSE_S)
        client.delete(name)
        return "ok"

    @app.get("/dump")
    def dump() -> str:
        return ",".join(sorted(k.decode() for k in hgetall(key())))

    @app.post("/fill")
    def fill() -> str:
        store(key(), {"data": "x" * int(request.args["n"])})
        return "ok"

    return Variant(
        "raw-redis-py",
        "flask",
        "wsgi",
        app,
        Counters(admin, lambda: client.round_trips),
        server_side=True,
        closers=[client.close],
        raw=True,
        redis_prefix=f"raw-{prefix}",
    )


def flask_baseline(admin: redis.Redis) -> Variant:
    """Flask with no session."""
    return Variant(
        "no-session", "flask", "wsgi", flask_app(None, None), Counters(admin), False, baseline=True
    )


def wsgi_variants(url: str, prefix: str, admin: redis.Redis) -> list[Variant]:
    """Every WSGI variant, each framework's baseline first."""
    from benchmarks import _django_site  # noqa: PLC0415 - configures Django once

    baseline, cache = _django_site.applications(url, f"dja-{prefix}")
    return [
        flask_baseline(admin),
        *sessionary_variants(url, prefix, admin),
        flask_cookie_variant(admin),
        flask_session_variant(url, prefix, admin),
        raw_variant(url, prefix, admin),
        Variant("no-session", "django", "wsgi", baseline, Counters(admin), False, baseline=True),
        Variant(
            "django-cache",
            "django",
            "wsgi",
            cache,
            Counters(admin),
            server_side=True,
            redis_prefix=f"dja-{prefix}",
        ),
    ]
