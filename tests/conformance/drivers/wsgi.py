"""Conformance driver: a plain WSGI app behind the generic WSGI middleware (werkzeug client)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.test import Client

from sessionary.integrations.wsgi import SessionMiddleware, StartResponse, csrf_token, get_session
from sessionary.sansio.session import Session
from sessionary.stores import CookieStore, MemoryStore, RedisStore
from sessionary.stores.base import SessionStore
from tests.conformance.driver import (
    DOWN_URL,
    FAILED_STATUS,
    AppSpec,
    Driver,
    Reply,
    Request,
    ThreadedDriver,
    failing_view,
    increment,
    normalise_headers,
    own_headers,
)


def sync_store(spec: AppSpec) -> SessionStore | CookieStore:
    """The store a sync driver uses for ``spec``."""
    if spec.store == "cookie":
        return CookieStore()
    if spec.store == "memory":
        return MemoryStore()
    if spec.store == "redis":  # generous: 1 000 concurrent requests share one loop/pool
        return RedisStore.from_url(
            spec.redis_url, prefix=spec.key_prefix, timeout=10, pool_timeout=60
        )
    return RedisStore.from_url(DOWN_URL, prefix=spec.key_prefix, timeout=0.5, retries=0)


def standard_view(
    path: str,
    query: dict[str, str],
    get: Callable[[], Session],
    csrf: Callable[[], str] | None = None,
) -> dict[str, Any] | None:
    """The standard application's routes (``None``: not found); ``get()`` gives the session."""
    if path == "/untouched":
        return {"ok": True}
    if path == "/csrf" and csrf is not None:
        return {"token": csrf()}
    session = get()
    result: dict[str, Any] | None = failing_view(path, query, session)
    if path == "/read":
        result = {"data": dict(session)}
    elif path == "/write":
        for key, value in query.items():
            session[key] = value
        result = {"data": dict(session)}
    elif path == "/append":
        cart = session.setdefault("cart", [])
        cart.append(int(query["item"]))
        result = {"cart": cart}
    elif path == "/login":
        session.login(query["user"])
        result = {"user": session.user_id}
    elif path == "/logout":
        session.logout()
        result = {}
    elif path == "/whoami":
        result = {"user": session.user_id}
    elif path == "/increment":
        result = increment(session, time.sleep)
    return result


def _app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    path = environ["PATH_INFO"]
    if path == "/json":
        body = json.dumps(get_session(environ)).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    result = standard_view(path, query, lambda: get_session(environ), lambda: csrf_token(environ))
    if result is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    body = json.dumps(result).encode()
    status = "500 Internal Server Error" if path in FAILED_STATUS else "200 OK"
    headers = [("Content-Type", "application/json"), *own_headers(query).items()]
    start_response(status, headers)
    return [body]


def as_a_server(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """What a WSGI server does with an application that raises (werkzeug's client re-raises).

    Nothing sent yet: a plain 500. Once the response started, the server keeps what was sent
    and ends the connection: the body read so far.
    """

    def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = False

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        sent: list[bytes] = []
        try:
            body = app(environ, start)
            try:
                sent.extend(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        except Exception:
            if started:
                return sent
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"Internal Server Error"]
        return sent

    return serve


class WerkzeugDriver(ThreadedDriver):
    """Drives a WSGI app with werkzeug's test client, cookies off; threads for concurrency."""

    def __init__(self, name: str, app: Callable[..., Iterable[bytes]]) -> None:
        self.name = name
        self._client = Client(as_a_server(app), use_cookies=False)

    def request(self, request: Request) -> Reply:
        """Send one request."""
        path, _, query = request.path.partition("?")
        response = self._client.open(
            path,
            method=request.method,
            query_string=query,
            headers=list(request.headers),
            data=request.body,
            base_url=f"{request.scheme or 'https'}://localhost",
        )
        try:
            return Reply(
                response.status_code,
                normalise_headers(list(response.headers.items())),
                response.get_data(),
            )
        finally:
            response.close()


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as a plain WSGI callable."""
    store = sync_store(spec)
    try:
        options = spec.options(lambda environ: environ["PATH_INFO"])
        app = SessionMiddleware(_app, store=store, config=spec.config, **options)
        yield WerkzeugDriver("wsgi", app)
    finally:
        store.close()
