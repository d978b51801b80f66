"""The demo as a Starlette application on :class:`~sessionary.integrations.asgi.SessionMiddleware`.

Routes: ``GET /`` (login form or the signed-in page), ``POST /login``, ``POST /increment``,
``POST /logout``, ``GET /devices`` (your signed-in sessions), ``POST /devices/revoke`` (end
one), ``POST /devices/revoke-others`` (end all but this one), ``GET /api/session`` (the same
state as JSON, for scripts), ``GET /healthz`` (never touches the session) and, when
``prometheus_client`` is installed, ``GET /metrics`` (sessionary's Prometheus metrics,
:mod:`sessionary.demo.metrics`). Unsafe requests from another origin are refused with 403
(``Origin`` / ``Sec-Fetch-Site``), on top of the ``SameSite=Lax`` cookie, and every form
carries the session's CSRF token (``csrf=True``; before sign-in, a pre-session token).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sessionary._async.events import AsyncEventSink, AsyncMemoryEventLog
from sessionary._async.manager import AsyncSessionManager
from sessionary.config import CookieOptions, SessionConfig
from sessionary.demo.admin import ADMIN_PASSWORD, ADMIN_USER, admin_routes
from sessionary.demo.edge import CloseConnections, SameOriginMiddleware
from sessionary.demo.metrics import with_metrics
from sessionary.demo.pages import FAVICON_SVG, devices_page, error_page, home_page, login_page
from sessionary.demo.settings import DemoSettings, redacted_url
from sessionary.integrations.asgi import SessionMiddleware, csrf_token, get_manager, get_session
from sessionary.stores.base import AsyncSessionStore

__all__ = ["DEMO_PASSWORD", "create_app", "create_app_from_environ"]

DEMO_PASSWORD = "demo"  # noqa: S105 - the demo's published password
_MAX_FORM_BYTES = 4096
_MAX_USERNAME = 64
_RECENT_WORKERS = 5
_NOT_FOUND = "There is no such page in the demo."
_NOT_ALLOWED = "This page does not take that method: use the demo's buttons."


def _open_store(settings: DemoSettings) -> tuple[AsyncSessionStore, AsyncEventSink]:
    """The store and where its lifecycle events go.

    On Redis the stream the operator commands read (shared by every worker), otherwise an
    in-process log (the admin view's, per worker).
    """
    if settings.uses_sql:
        from sessionary.backends.sql import async_sql_store_from_url  # noqa: PLC0415

        return async_sql_store_from_url(settings.store), AsyncMemoryEventLog()
    if not settings.uses_redis:
        from sessionary._async.memory import AsyncMemoryStore  # noqa: PLC0415

        return AsyncMemoryStore(), AsyncMemoryEventLog()
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


class _Fingerprints:
    """A short keyed fingerprint of the session ID the browser sent: rotation made visible.

    Keyed with a key derived from the demo's secret, cut to 8 hex digits: it names the ID on
    the page without revealing it (the cookie itself is ``HttpOnly``).
    """

    def __init__(self, config: SessionConfig) -> None:
        self.cookie = config.cookie.name
        self.key = hmac.digest(config.secrets[0], b"sessionary-demo-fingerprint", "sha256")

    def __call__(self, request: Request) -> str | None:
        value = request.cookies.get(self.cookie)
        if not value:
            return None
        return hmac.digest(self.key, value.encode(), "sha256").hex()[:8]


def _password_of(username: str) -> str:
    """The demo's published passwords: ``admin`` for the demo admin, ``demo`` for anyone."""
    return ADMIN_PASSWORD if username == ADMIN_USER else DEMO_PASSWORD


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


_DEVICE_NOTICES = {
    "one": "That device is signed out.",
    "others": "Every other device is signed out: they see the sign-in page on their next visit.",
    "unconfirmed": "Nothing changed: tick the box to confirm first.",
}


def _device_routes(store_label: str, pid: Callable[[], int]) -> list[Route]:
    """The "Your devices" page: list the user's sessions, end one or all others."""

    async def devices(request: Request) -> HTMLResponse | RedirectResponse:
        session = get_session(request)
        user = session.user_id
        if user is None:
            return RedirectResponse("/", status_code=303)
        listed = await get_manager(request).list_user_sessions(user, current=session)
        notice = _DEVICE_NOTICES.get(request.query_params.get("done", ""))
        page = devices_page(
            user=user,
            devices=listed,
            now=time.time(),
            store=store_label,
            pid=pid(),
            notice=notice,
            csrf=csrf_token(request),
        )
        return HTMLResponse(page)

    async def revoke_device(request: Request) -> RedirectResponse:
        session = get_session(request)
        ref = (await _form(request)).get("ref", "")
        user = session.user_id
        manager = get_manager(request)
        if user is not None and ref and ref != session.ref:
            ended = await manager.revoke_session(user, ref)
            return RedirectResponse("/devices?done=one" if ended else "/devices", status_code=303)
        return RedirectResponse("/devices", status_code=303)

    async def revoke_others(request: Request) -> RedirectResponse:
        session = get_session(request)
        if (await _form(request)).get("confirm") != "yes":
            return RedirectResponse("/devices?done=unconfirmed", status_code=303)
        if session.user_id is not None:
            await get_manager(request).revoke_user(session.user_id, keep_current=session)
        return RedirectResponse("/devices?done=others", status_code=303)

    return [
        Route("/devices", devices),
        Route("/devices/revoke", revoke_device, methods=["POST"]),
        Route("/devices/revoke-others", revoke_others, methods=["POST"]),
    ]


def _counter_routes(
    store_label: str, pid: Callable[[], int], fingerprint: _Fingerprints
) -> list[Route]:
    """Sign in, the counter, a new session ID, log out, and the same state as JSON."""

    async def home(request: Request) -> HTMLResponse:
        session = get_session(request)
        user = session.user_id
        if user is None:
            notice = "You are signed out." if "signed-out" in request.query_params else None
            page = login_page(
                store=store_label,
                pid=pid(),
                ended=session.end_reason,
                notice=notice,
                csrf=csrf_token(request),
            )
            return HTMLResponse(page)
        count = int(session.get("count", 0))
        workers = [int(w) for w in session.get("workers", [])]
        ids = (session.get("previous_id"), fingerprint(request))
        page = home_page(
            user=user,
            count=count,
            store=store_label,
            pid=pid(),
            workers=workers,
            ids=ids,
            csrf=csrf_token(request),
        )
        return HTMLResponse(page)

    async def login(request: Request) -> HTMLResponse | RedirectResponse:
        form = await _form(request)
        username = form.get("username", "").strip()
        password = form.get("password", "")
        error = None
        if not username or len(username) > _MAX_USERNAME or not username.isprintable():
            error = f"Enter a user name of 1 to {_MAX_USERNAME} printable characters."
        elif not hmac.compare_digest(password.encode(), _password_of(username).encode()):
            error = f"Wrong password (it is '{_password_of(username)}')."
        if error is not None:
            kept = username[:_MAX_USERNAME] if username.isprintable() else ""
            csrf = csrf_token(request)
            page = login_page(store=store_label, pid=pid(), error=error, username=kept, csrf=csrf)
            return HTMLResponse(page, status_code=401)
        session = get_session(request)
        session.login(username)
        session.setdefault("count", 0)
        session["previous_id"] = fingerprint(request)  # the ID before: none for a visitor
        return RedirectResponse("/", status_code=303)

    async def new_id(request: Request) -> RedirectResponse:
        session = get_session(request)
        if session.user_id is not None:
            session.rotate()  # the old ID stops working at once
            session["previous_id"] = fingerprint(request)
        return RedirectResponse("/", status_code=303)

    async def increment(request: Request) -> RedirectResponse:
        session = get_session(request)
        if session.user_id is not None:
            session["count"] = int(session.get("count", 0)) + 1
            recent = [*session.get("workers", []), pid()][-_RECENT_WORKERS:]
            session["workers"] = recent  # which worker process served each of the last +1s
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request) -> RedirectResponse:
        get_session(request).logout()
        return RedirectResponse("/?signed-out", status_code=303)

    async def state(request: Request) -> JSONResponse:
        session = get_session(request)
        user = session.user_id
        payload: dict[str, Any] = {"user": user, "pid": pid()}
        if user is not None:
            payload["count"] = int(session.get("count", 0))
        return JSONResponse(payload)

    return [
        Route("/", home),
        Route("/login", login, methods=["POST"]),
        Route("/increment", increment, methods=["POST"]),
        Route("/rotate", new_id, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/session", state),
    ]


def create_app(settings: DemoSettings | None = None) -> Starlette:
    """Build the demo application (a new store, closed by the application's lifespan)."""
    settings = settings or DemoSettings()
    store, events = _open_store(settings)
    store_label = redacted_url(settings.store)
    config = _session_config(settings)

    def pid() -> int:
        return os.getpid()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "pid": pid(), "store": store_label})

    async def favicon(request: Request) -> Response:
        headers = {"Cache-Control": "public, max-age=86400"}
        return Response(FAVICON_SVG, media_type="image/svg+xml", headers=headers)

    async def http_error(request: Request, exc: Exception) -> HTMLResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = _NOT_ALLOWED if status == 405 else _NOT_FOUND
        page = error_page(status, message, store=store_label, pid=pid())
        headers = getattr(exc, "headers", None)  # 405: Allow
        return HTMLResponse(page, status_code=status, headers=headers)

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
            *_counter_routes(store_label, pid, _Fingerprints(config)),
            *_device_routes(store_label, pid),
            Route("/healthz", healthz),
            Route("/favicon.svg", favicon),
            Route("/favicon.ico", favicon),
        ],
        lifespan=lifespan,
        exception_handlers={404: http_error, 405: http_error},
    )
    observer, figures = with_metrics(app)  # and GET /metrics with prometheus_client
    admin = admin_routes(sink=events, figures=figures, store=store_label, pid=pid, form=_form)
    app.router.routes.extend(admin)
    app.add_middleware(
        SessionMiddleware,
        csrf=True,  # every form carries the session's CSRF token (a pre-session one at first)
        manager=AsyncSessionManager(
            store,
            config,
            observer=observer,
            events=events,  # on Redis: what `sessionary events tail` shows; the admin view's
        ),
    )
    app.add_middleware(SameOriginMiddleware)
    app.add_middleware(CloseConnections)
    return app


def create_app_from_environ() -> Starlette:
    """The application factory uvicorn's worker processes call (settings from the env)."""
    return create_app(DemoSettings.from_environ())
