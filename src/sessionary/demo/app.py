"""The demo as a Starlette application on :class:`~sessionary.integrations.asgi.SessionMiddleware`.

Routes: ``GET /`` (login form or the signed-in page), ``POST /login``, ``POST /increment``,
``POST /logout``, ``GET /devices`` (your signed-in sessions), ``POST /devices/revoke`` (end
one), ``POST /devices/revoke-others`` (end all but this one), ``GET /api/session`` (the same
state as JSON, for scripts), ``GET /healthz`` (never touches the session) and, when
``prometheus_client`` is installed, ``GET /metrics`` (sessionary's Prometheus metrics,
:mod:`sessionary.demo.metrics`). Unsafe requests from another origin are refused with 403
(``Origin`` / ``Sec-Fetch-Site``), on top of the ``SameSite=Lax`` cookie.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route

from sessionary._async.events import AsyncEventSink
from sessionary._async.manager import AsyncSessionManager
from sessionary.config import CookieOptions, SessionConfig
from sessionary.demo.metrics import with_metrics
from sessionary.demo.pages import devices_page, home_page, login_page
from sessionary.demo.settings import DemoSettings, redacted_url
from sessionary.integrations.asgi import SessionMiddleware, get_manager, get_session
from sessionary.stores.base import AsyncSessionStore

__all__ = ["DEMO_PASSWORD", "create_app", "create_app_from_environ"]

DEMO_PASSWORD = "demo"  # noqa: S105 - the demo's published password
_MAX_FORM_BYTES = 4096
_MAX_USERNAME = 64
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _open_store(settings: DemoSettings) -> tuple[AsyncSessionStore, AsyncEventSink | None]:
    """The store, and on Redis the event stream the operator commands read."""
    if settings.uses_sql:
        from sessionary.backends.sql import async_sql_store_from_url  # noqa: PLC0415

        return async_sql_store_from_url(settings.store), None
    if not settings.uses_redis:
        from sessionary._async.memory import AsyncMemoryStore  # noqa: PLC0415

        return AsyncMemoryStore(), None
    from sessionary.backends.redis import (  # noqa: PLC0415 - redis is optional
        AsyncRedisEventStream,
        AsyncRedisStore,
    )

    store = AsyncRedisStore.from_url(settings.store, prefix=settings.prefix)
    return store, AsyncRedisEventStream(store.client, prefix=settings.prefix)


def _session_config(settings: DemoSettings) -> SessionConfig:
    if settings.insecure_cookie:
        cookie = CookieOptions(name="sessionary-demo", secure=False, insecure_development_mode=True)
    else:
        cookie = CookieOptions(name="__Host-sessionary-demo")
    return SessionConfig(
        secret_keys=[settings.secret], cookie=cookie, idle_timeout=settings.idle_timeout
    )


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _cross_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc != request.headers.get("host", "")


def _device_routes(store_label: str, pid: Callable[[], int]) -> list[Route]:
    """The "Your devices" page: list the user's sessions, end one or all others."""

    async def devices(request: Request) -> HTMLResponse | RedirectResponse:
        session = get_session(request)
        user = session.user_id
        if user is None:
            return RedirectResponse("/", status_code=303)
        listed = await get_manager(request).list_user_sessions(user, current=session)
        page = devices_page(
            user=user, devices=listed, now=time.time(), store=store_label, pid=pid()
        )
        return HTMLResponse(page)

    async def revoke_device(request: Request) -> RedirectResponse:
        session = get_session(request)
        ref = (await _form(request)).get("ref", "")
        if session.user_id is not None and ref and ref != session.ref:
            await get_manager(request).revoke_session(session.user_id, ref)
        return RedirectResponse("/devices", status_code=303)

    async def revoke_others(request: Request) -> RedirectResponse:
        session = get_session(request)
        if session.user_id is not None:
            await get_manager(request).revoke_user(session.user_id, keep_current=session)
        return RedirectResponse("/devices", status_code=303)

    return [
        Route("/devices", devices),
        Route("/devices/revoke", revoke_device, methods=["POST"]),
        Route("/devices/revoke-others", revoke_others, methods=["POST"]),
    ]


def create_app(settings: DemoSettings | None = None) -> Starlette:
    """Build the demo application (a new store, closed by the application's lifespan)."""
    settings = settings or DemoSettings()
    store, events = _open_store(settings)
    store_label = redacted_url(settings.store)

    def pid() -> int:
        return os.getpid()

    async def home(request: Request) -> HTMLResponse:
        session = get_session(request)
        user = session.user_id
        if user is None:
            page = login_page(store=store_label, pid=pid(), ended=session.end_reason)
            return HTMLResponse(page)
        count = int(session.get("count", 0))
        return HTMLResponse(home_page(user=user, count=count, store=store_label, pid=pid()))

    async def login(request: Request) -> HTMLResponse | RedirectResponse:
        form = await _form(request)
        username = form.get("username", "").strip()
        password = form.get("password", "")
        error = None
        if not username or len(username) > _MAX_USERNAME or not username.isprintable():
            error = f"Enter a user name of 1 to {_MAX_USERNAME} printable characters."
        elif not hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
            error = "Wrong password (it is 'demo')."
        if error is not None:
            page = login_page(store=store_label, pid=pid(), error=error)
            return HTMLResponse(page, status_code=401)
        session = get_session(request)
        session.login(username)
        session.setdefault("count", 0)
        return RedirectResponse("/", status_code=303)

    async def increment(request: Request) -> RedirectResponse:
        session = get_session(request)
        if session.user_id is not None:
            session["count"] = int(session.get("count", 0)) + 1
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request) -> RedirectResponse:
        get_session(request).logout()
        return RedirectResponse("/", status_code=303)

    async def state(request: Request) -> JSONResponse:
        session = get_session(request)
        user = session.user_id
        payload: dict[str, Any] = {"user": user, "pid": pid()}
        if user is not None:
            payload["count"] = int(session.get("count", 0))
        return JSONResponse(payload)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "pid": pid(), "store": store_label})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        warm_up = getattr(store, "warm_up", None)
        if warm_up is not None:
            await warm_up()  # fail at start-up, not on the first visitor, if Redis is away
        try:
            yield
        finally:
            await store.aclose()

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["POST"]),
            Route("/increment", increment, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            *_device_routes(store_label, pid),
            Route("/api/session", state),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(
        SessionMiddleware,
        manager=AsyncSessionManager(
            store,
            _session_config(settings),
            observer=with_metrics(app),  # and GET /metrics when prometheus_client is installed
            events=events,  # on Redis: what `sessionary events tail` shows
        ),
    )
    app.add_middleware(_SameOriginMiddleware)
    return app


class _SameOriginMiddleware:
    """Refuses unsafe cross-origin requests before the session is even loaded."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in _UNSAFE_METHODS:
            request = Request(scope)
            if _cross_origin(request):
                response = PlainTextResponse("Cross-origin request refused", status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app_from_environ() -> Starlette:
    """The application factory uvicorn's worker processes call (settings from the env)."""
    return create_app(DemoSettings.from_environ())
