"""aiohttp: a session middleware in aiohttp-session's style (``pip install 'sessionary[aiohttp]'``).

::

    setup(app, store=AsyncRedisStore.from_url("redis://localhost:6379/0"), config=config)

    async def handler(request: web.Request) -> web.Response:
        session = await get_session(request)

The session is committed before the response headers are sent: when the handler returns,
or on ``on_response_prepare`` for streamed responses and WebSocket handshakes (a commit that
fails then cannot change the status: the response goes out without a cookie and the lost
change is logged as an error). ``new_session()`` ends the session and starts an empty one.
The store is closed on ``app.on_cleanup``.

The options of :func:`setup` are every adapter's (:class:`~sessionary.sansio.gate.GateOptions`,
``docs/adapters.md``): ``csrf=`` (the token from ``X-CSRF-Token`` or a form field read with
``request.post()``; :func:`csrf_token`), ``tenants=``, ``lock=`` and ``store_down=`` (a value
or a function of the request), ``commit_on_error=``, and ``websocket_origins=``: a handshake
whose ``Origin`` is neither the ``Host`` nor listed is refused 403. A store outage answers 503
where the session is used; a failed request commits only a logout or a rotation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.aiohttp needs aiohttp: pip install 'sessionary[aiohttp]'"
    raise ImportError(msg) from exc

from sessionary._async.manager import AsyncSessionManager
from sessionary.config import SessionConfig
from sessionary.integrations._aiohttp import (
    CSRF,
    STRICT_TRANSPORT,
    Handler,
    State,
    error_response,
    info,
    on_prepare,
    serve,
    state_of,
)
from sessionary.integrations._csrf import context_for, find_context
from sessionary.integrations._manager import gate_for, manager_for
from sessionary.observability import Observer
from sessionary.sansio.gate import Gate, NeedForm, Open, Refuse, WebSocketGateOptions
from sessionary.sansio.session import Session
from sessionary.stores.base import AsyncSessionStore
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Handler", "csrf_token", "get_session", "new_session", "session_middleware", "setup"]


async def get_session(request: web.Request) -> Session:
    """The request's :class:`~sessionary.Session` (loaded now with ``setup(..., lazy=True)``)."""
    session = (await state_of(request).load(request)).session
    session.mark_accessed()  # raises StoreUnavailableError when the store is down
    return session


async def new_session(request: web.Request) -> Session:
    """Discard the current session (destroyed in the store) and start a fresh, empty one.

    Equivalent to ``logout()`` followed by writing: the first value set on the returned
    session creates a new record under a new ID.
    """
    session = await get_session(request)
    session.logout()
    return session


def csrf_token(request: web.Request) -> str:
    """A masked CSRF token for this response (``setup(..., csrf=True)`` must be used)."""
    return find_context(request, CSRF, "pass csrf=True to setup()").token()


def session_middleware(
    manager: AsyncSessionManager, gate: Gate, *, lazy: bool = False
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware; :func:`setup` installs it (with the prepare hook and cleanup)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if gate.strict_transport is None:
            return await respond(request, handler, None)
        hsts = gate.strict_transport_for(request.scheme)
        if hsts is None:
            return await respond(request, handler, None)
        try:
            response = await respond(request, handler, hsts)
        except web.HTTPException as error:
            error.headers.setdefault(STRICT_TRANSPORT, hsts)
            raise
        if not response.prepared:  # a streamed one got it as it was prepared (on_prepare)
            response.headers.setdefault(STRICT_TRANSPORT, hsts)
        return response

    async def respond(
        request: web.Request, handler: Handler, hsts: str | None
    ) -> web.StreamResponse:
        request_info = info(request, gate.token_header)
        if lazy and not request_info.websocket:
            opened = gate.decide(request_info, request)
            if isinstance(opened, Open) and not opened.check_token and not opened.lock:
                state = State(None, manager, gate, opened=opened, info=request_info, hsts=hsts)
                return await serve(state, request, handler)
        entry = await manager.admit(gate, request_info, request)
        if isinstance(entry, NeedForm):  # aiohttp parses the form (client_max_size applies)
            value = (await request.post()).get(entry.field)
            form = request_info.with_form(value if isinstance(value, str) else None)
            entry = await manager.admit(gate, form, request)
        assert not isinstance(entry, NeedForm)  # the form was read
        if isinstance(entry, Refuse):
            return error_response(entry.status, entry.body)
        context = context_for(gate, entry)
        if context is not None:
            request[CSRF] = context
        return await serve(State(entry, manager, gate, hsts=hsts), request, handler)

    return middleware


def setup(
    app: web.Application,
    *,
    store: AsyncSessionStore | CookieStore | None = None,
    config: SessionConfig | None = None,
    manager: AsyncSessionManager | None = None,
    observer: Observer | None = None,
    lazy: bool = False,
    **options: Unpack[WebSocketGateOptions],
) -> AsyncSessionManager:
    """Install sessionary on ``app``; returns the manager.

    ``lazy=True``: a presented session is loaded on the handler's first ``await
    get_session(request)``; a handler that never asks makes no store call (a request whose
    CSRF token must be checked, a locked one and a WebSocket handshake load at once).
    """
    manager = manager_for(
        AsyncSessionManager, manager, store, config, observer=observer, owner="setup()"
    )
    gate = gate_for(manager, options, multipart=True)
    app.middlewares.append(session_middleware(manager, gate, lazy=lazy))
    app.on_response_prepare.append(on_prepare)

    async def close_store(app: web.Application) -> None:
        await manager.aclose()

    app.on_cleanup.append(close_store)
    return manager
