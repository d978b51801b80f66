"""SQL session stores side by side, in one run, on one PostgreSQL: the compare harness's style.

The WSGI applications of :mod:`benchmarks.compare` (the routes of
:mod:`benchmarks._variants`, called in process) with SQL session backends:

* ``sessionary-postgres`` / ``sessionary-sqlite``: :mod:`sessionary.integrations.flask`
  with ``PostgresStore`` (a schema of its own) and ``SQLiteStore`` (a temporary file);
* ``flask-session-sqlalchemy``: Flask-Session's ``SqlAlchemySessionInterface`` on the same
  PostgreSQL (Flask-SQLAlchemy, psycopg 3);
* ``django-db``: ``django.contrib.sessions.backends.db`` on the same PostgreSQL;
* ``no-session`` for Flask and for Django: the baselines.

Per variant and workload (``read``: ``GET /read`` with the session's cookie; ``write``:
``POST /write``), ``--requests`` sequential requests per round, the variants' order rotating
from round to round; the figure is the median over rounds of the mean time per request, as
a ratio to the framework's no-session baseline and to ``django-db``. Then the races of
:mod:`benchmarks._checks`' kind, on each server-side variant: 20 concurrent writes of
distinct keys to one session (lost updates), and a logout racing 10 writes (a session that
comes back after the logout is a resurrection). Every schema and file is dropped at the end::

    python -m benchmarks.sql_compare --url postgresql://postgres@127.0.0.1:5432/test \\
        --requests 500 --rounds 5
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from benchmarks._harness import CookieJar, wsgi_request
from benchmarks._wsgi_variants import (
    _clear,
    _sessionary_login,
    _sessionary_logout,
    flask_app,
)
from sessionary import SessionConfig
from sessionary.backends.sql import PostgresStore, SQLiteStore
from sessionary.config import CookieOptions
from sessionary.integrations.flask import Sessionary

WORKLOADS = ("read", "write")
RACE_WRITES = 20
RACE_LOGOUT_WRITES = 10


@dataclass
class Variant:
    """One WSGI application and how it ends."""

    name: str
    framework: str
    app: Any
    baseline: bool = False
    closers: list[Callable[[], object]] = field(default_factory=list)


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def sessionary_variants(url: str, schema: str, directory: Path) -> list[Variant]:
    """sessionary's Flask extension on PostgreSQL and on SQLite."""
    postgres = PostgresStore(url, schema=schema, max_size=20)
    sqlite = SQLiteStore(str(directory / "sessions.db"))
    variants = []
    for name, store in (("sessionary-postgres", postgres), ("sessionary-sqlite", sqlite)):
        store.init_schema()
        app = flask_app(_sessionary_login, _sessionary_logout)
        config = SessionConfig(secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions())
        Sessionary(app, store=store, config=config)
        variants.append(Variant(name, "flask", app, closers=[store.close]))
    return variants


def flask_session_variant(url: str, schema: str) -> Variant:
    """Flask-Session's SQLAlchemy interface (regenerates the ID at login)."""
    from flask_session import Session  # noqa: PLC0415 - optional dependency
    from flask_sqlalchemy import SQLAlchemy  # noqa: PLC0415

    holder: list[Any] = []

    def login(s: Any) -> None:
        holder[0].session_interface.regenerate(s)
        s["user"] = "user-42"

    app = flask_app(login, _clear)
    holder.append(app)
    address = url.replace("postgresql://", "postgresql+psycopg://", 1)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=_with_schema(address, schema),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20},
    )
    db = SQLAlchemy(app)
    app.config.update(
        SESSION_TYPE="sqlalchemy",
        SESSION_SQLALCHEMY=db,
        SESSION_SERIALIZATION_FORMAT="json",
        SESSION_CLEANUP_N_REQUESTS=None,
    )
    Session(app)

    def close() -> None:
        with app.app_context():
            db.engine.dispose()

    return Variant("flask-session-sqlalchemy", "flask", app, closers=[close])


def django_variants(url: str, schema: str) -> list[Variant]:
    """Django without sessions, and with ``backends.db`` on PostgreSQL."""
    import django  # noqa: PLC0415 - optional dependency
    from django.conf import settings  # noqa: PLC0415
    from django.core.handlers.wsgi import WSGIHandler  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connections  # noqa: PLC0415

    parts = psycopg.conninfo.conninfo_to_dict(url)
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_hex(32),
        ALLOWED_HOSTS=["bench"],
        ROOT_URLCONF="benchmarks._django_site",
        INSTALLED_APPS=["django.contrib.sessions"],
        MIDDLEWARE=[],
        USE_TZ=True,
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        SESSION_COOKIE_SECURE=True,
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": parts.get("dbname", "postgres"),
                "USER": parts.get("user", ""),
                "PASSWORD": parts.get("password", ""),
                "HOST": parts.get("host", ""),
                "PORT": parts.get("port", ""),
                "OPTIONS": {"options": f"-c search_path={schema}"},
                "CONN_MAX_AGE": None,  # persistent connections, as a deployment would use
            }
        },
    )
    django.setup()
    call_command("migrate", "sessions", verbosity=0)
    baseline = WSGIHandler()
    settings.MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
    with_sessions = WSGIHandler()
    return [
        Variant("no-session", "django", baseline, baseline=True),
        Variant("django-db", "django", with_sessions, closers=[connections.close_all]),
    ]


@contextmanager
def schemas(url: str, names: list[str]) -> Iterator[None]:
    """Create the schemas; drop them (and their tables) afterwards."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            for name in names:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )


def _signed_in(variant: Variant) -> CookieJar:
    jar = CookieJar()
    reply = wsgi_request(variant.app, "POST", "/login", jar)
    assert reply.status == 200, (variant.name, reply.status)
    return jar


def mean_request_s(variant: Variant, workload: str, requests: int) -> float:
    """Mean seconds per request of ``requests`` sequential requests of ``workload``."""
    jar = _signed_in(variant)
    method, path = ("GET", "/read") if workload == "read" else ("POST", "/write")
    started = time.perf_counter()
    for _ in range(requests):
        reply = wsgi_request(variant.app, method, path, jar)
        assert reply.status == 200, (variant.name, workload, reply.status)
    return (time.perf_counter() - started) / requests


def _concurrently(calls: list[Callable[[], object]]) -> None:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def races(variant: Variant) -> tuple[int, bool]:
    """(lost updates of 20 concurrent disjoint writes, whether a logout was undone)."""
    jar = _signed_in(variant)
    _concurrently([
        partial(wsgi_request, variant.app, "POST", f"/race/write?k=k{k}", jar.copy())
        for k in range(RACE_WRITES)
    ])  # fmt: skip
    keys = wsgi_request(variant.app, "GET", "/dump", jar.copy()).body.decode().split(",")
    lost = RACE_WRITES - sum(1 for key in keys if key.startswith("k"))
    jar = _signed_in(variant)
    calls: list[Callable[[], object]] = [
        partial(wsgi_request, variant.app, "POST", "/race/logout", jar.copy())
    ]
    calls += [
        partial(wsgi_request, variant.app, "POST", f"/race/write?k=w{k}", jar.copy())
        for k in range(RACE_LOGOUT_WRITES)
    ]
    _concurrently(calls)
    left = wsgi_request(variant.app, "GET", "/dump", jar.copy()).body.decode()
    resurrected = any(key.startswith(("w", "user")) for key in left.split(",") if key)
    return lost, resurrected


def main(argv: list[str] | None = None) -> int:
    """Build the variants, measure them round by round, print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--schema-prefix", default="bench", help="the schemas' prefix (dropped at the end)"
    )
    args = parser.parse_args(argv)
    run = uuid.uuid4().hex[:8]
    names = {
        n: f"{args.schema_prefix}_{n}_{run}" for n in ("sessionary", "flask_session", "django")
    }
    variants: list[Variant] = []
    with tempfile.TemporaryDirectory() as directory, schemas(args.url, list(names.values())):
        try:
            variants = [
                Variant("no-session", "flask", flask_app(None, None), baseline=True),
                *sessionary_variants(args.url, names["sessionary"], Path(directory)),
                flask_session_variant(args.url, names["flask_session"]),
                *django_variants(args.url, names["django"]),
            ]
            report(variants, args.requests, args.rounds)
        finally:
            for variant in variants:
                for close in variant.closers:
                    close()
    return 0


def report(variants: list[Variant], requests: int, rounds: int) -> None:
    """Measure and print: time per request and ratios, then the races."""
    means: dict[tuple[str, str, str], list[float]] = {}
    for round_no in range(rounds):
        shift = round_no % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            for workload in WORKLOADS:
                key = (variant.framework, variant.name, workload)
                means.setdefault(key, []).append(mean_request_s(variant, workload, requests))
    median = {key: statistics.median(values) for key, values in means.items()}
    print(f"{requests} sequential requests per variant, workload and round; {rounds} rounds")
    print()
    print("| framework | variant | workload | µs per request | x no-session | x django-db |")
    print("|---|---|---|---:|---:|---:|")
    for (framework, name, workload), seconds in median.items():
        base = median[(framework, "no-session", workload)]
        django_db = median[("django", "django-db", workload)]
        print(
            f"| {framework} | {name} | {workload} | {seconds * 1e6:,.0f} | "
            f"{seconds / base:.2f} | {seconds / django_db:.2f} |"
        )
    print()
    print("| variant | lost updates (of 20 disjoint writes) | logout undone by a racing write |")
    print("|---|---:|---|")
    for variant in variants:
        if not variant.baseline:
            lost, resurrected = races(variant)
            print(f"| {variant.name} | {lost} | {'yes' if resurrected else 'no'} |")


if __name__ == "__main__":
    raise SystemExit(main())
