"""aiohttp: a session middleware in aiohttp-session's style (``pip install 'sessionary[aiohttp]'``).

::

    from aiohttp import web
    from sessionary.integrations.aiohttp import get_session, setup
    from sessionary.stores import AsyncRedisStore

    app = web.Application()
    setup(app, store=AsyncRedisStore.from_url("redis://localhost:6379/0"), config=config)

    async def handler(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["count"] = session.get("count", 0) + 1
        ...

The session is committed before the response headers are sent: for ordinary responses when
the handler returns, for streamed responses on ``on_response_prepare`` (just before
``prepare()`` writes the headers). ``new_session(request)`` starts over: the current session
is destroyed (as by ``logout()``) and a fresh, empty one — with a new ID — replaces it. When
the store is down, only requests that touch the session fail, with a generic 503 and no
``Set-Cookie``; a commit refused under the ``raise`` conflict policy answers 409. For a
streamed response whose commit fails, aiohttp can no longer swap the response or change its
status: it goes out without a cookie and the lost change is logged as an error. Load the
session before ``prepare()`` (``await get_session(request)``) so an outage is a 503 first.
A ``logout()`` while a streamed response is written raises ``SessionClosedError`` (the cookie
cannot be cleared) and the stored session ends when the handler returns. A failed request
(the handler raised, or the response is a 5xx) commits only a logout or an explicit
rotation, on aiohttp's 500 (``setup(..., commit_on_error=True)``: everything). The store is
closed on ``app.on_cleanup``.

``setup(..., csrf=True)`` (or ``csrf=CsrfOptions(...)``) checks unsafe requests: Origin /
Fetch Metadata first, then the token from the ``X-CSRF-Token`` header or the ``csrf_token``
field of a form (URL-encoded or multipart, read with ``request.post()``); failures answer 403.
:func:`csrf_token` gives the masked token for a template.

``setup(..., tenants={host: tenant})`` (or a callable ``host -> tenant``) binds a server-side
tenant into every storage key and the sealed cookie's AAD; unknown hosts get 400.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.aiohttp needs aiohttp: pip install 'sessionary[aiohttp]'"
    raise ImportError(msg) from exc

from sessionary._async.manager import AsyncSessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError, StoreUnavailableError
from sessionary.integrations._commit_errors import (
    COMMIT_ERRORS,
    commit_failure,
    failed,
    store_was_down,
)
from sessionary.integrations._csrf import (
    CONTEXT_KEY,
    CsrfContext,
    find_context,
    make_guard,
    origin_failure,
    report,
)
from sessionary.observability import Observer
from sessionary.sansio.csrf import FORBIDDEN_BODY, CsrfFailure, CsrfGuard, CsrfOptions
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.headers import header_changes
from sessionary.sansio.session import Session
from sessionary.sansio.tenants import TenantResolver
from sessionary.stores.base import AsyncSessionStore
from sessionary.stores.cookie import CookieStore

__all__ = ["csrf_token", "get_session", "new_session", "session_middleware", "setup"]

logger = logging.getLogger("sessionary")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[..., Awaitable[web.StreamResponse]]

_MANAGER_KEY = web.AppKey("sessionary_manager", AsyncSessionManager)


class _State:
    """Per-request state: the cycle, whether it was committed, and the error rule."""

    __slots__ = ("commit_on_error", "committed", "cycle")

    def __init__(self, cycle: SessionCycle, commit_on_error: bool) -> None:
        self.cycle = cycle
        self.commit_on_error = commit_on_error
        self.committed = False


# aiohttp >= 3.13 wants typed request keys; older versions take a string.
_STATE: Any = web.RequestKey("sessionary", _State) if hasattr(web, "RequestKey") else "sessionary"
_CSRF: Any = web.RequestKey(CONTEXT_KEY, CsrfContext) if hasattr(web, "RequestKey") else CONTEXT_KEY


def _state(request: web.Request) -> _State:
    state = request.get(_STATE)
    if not isinstance(state, _State):
        msg = "no sessionary session on this request: call sessionary.integrations.aiohttp.setup()"
        raise ConfigurationError(msg)
    return state


def _cycle(request: web.Request) -> SessionCycle:
    return _state(request).cycle


async def get_session(request: web.Request) -> Session:
    """The request's :class:`~sessionary.Session`."""
    session = _cycle(request).session
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
    return find_context(request, _CSRF, "setup()").token()


async def _presented_token(request: web.Request, context: CsrfContext) -> str | None:
    presented = request.headers.get(context.header_name)
    if presented is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        value = (await request.post()).get(context.field_name)
        presented = value if isinstance(value, str) else None
    return presented


def _error(status: int, text: str, update: ResponseUpdate | None = None) -> web.Response:
    response = web.Response(status=status, text=text, headers={"Cache-Control": "no-store"})
    if update is not None:
        _apply(update, response)
    return response


def _apply(update: ResponseUpdate, response: web.StreamResponse) -> None:
    changes = header_changes(update, response.headers.get("Vary"))
    for name, value in changes.replace.items():
        response.headers[name] = value
    for name, value in changes.append:
        response.headers.add(name, value)


async def _failed_commit(manager: AsyncSessionManager, state: _State) -> ResponseUpdate | None:
    """Commit a failed request (a logout or rotation holds); ``None`` if that failed too."""
    try:
        return await manager.commit(state.cycle, failed=not state.commit_on_error)
    except COMMIT_ERRORS:
        return None


async def _commit(request: web.Request, response: web.StreamResponse) -> web.Response | None:
    """Commit once and add the headers; returns an error response to send instead, if any."""
    state = _state(request)
    if state.committed:
        return None
    state.committed = True
    manager = request.app[_MANAGER_KEY]
    try:
        update = await manager.commit(
            state.cycle, failed=failed(response.status, state.commit_on_error)
        )
    except COMMIT_ERRORS as error:
        return _error(*commit_failure(error))
    _apply(update, response)
    return None


async def _answer(
    request: web.Request,
    response: web.StreamResponse,
    state: _State,
    manager: AsyncSessionManager,
) -> web.StreamResponse:
    """The handler's response with the session committed, or the error response instead."""
    if response.prepared:
        return response  # streamed: committed on prepare, the body has been sent
    if store_was_down(response.status, state.cycle):  # an inner middleware's own 500
        state.committed = True
        await _failed_commit(manager, state)  # no I/O: records fail_closed
        return _error(503, "Service Unavailable")
    error = await _commit(request, response)
    return error if error is not None else response


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Streamed responses: commit just before ``prepare()`` sends the headers."""
    state = request.get(_STATE)
    if not isinstance(state, _State) or state.committed:
        return
    error = await _commit(request, response)
    if error is not None:
        # aiohttp has already bound this response (and its status) to the connection, so it
        # can be neither swapped nor re-statused: it goes out without a cookie, and the lost
        # session change is logged as an error, never dropped silently (R85).
        response.headers["Cache-Control"] = "no-store"
        logger.error(
            "sessionary: the session could not be saved before a streamed response started "
            "(%s); the response was sent without the session change",
            error.text,
        )


def session_middleware(
    manager: AsyncSessionManager,
    csrf: CsrfGuard | None = None,
    tenants: TenantResolver | None = None,
    *,
    commit_on_error: bool = False,
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware; :func:`setup` installs it (with the prepare hook and cleanup).

    ``commit_on_error``: commit a failed request's changes too (default: only a logout or
    a rotation).
    """
    token_header = manager.request_header

    def refuse(failure: CsrfFailure, method: str, peer: str | None) -> web.Response:
        report(manager.observer, manager.core, failure, method, peer)
        return _error(403, FORBIDDEN_BODY.decode())

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        tenant = ""
        if tenants is not None:
            resolved = tenants.resolve(request.headers.get("Host"))
            if resolved is None:  # a host no tenant is configured for: no session at all
                return _error(400, "Bad Request")
            tenant = resolved
        tokens = request.headers.getall(token_header, []) if token_header else ()
        peer = request.remote
        method = request.method
        unsafe = csrf is not None and csrf.is_unsafe(method)
        if unsafe:
            assert csrf is not None
            failure = origin_failure(csrf, method, request.scheme, request.headers.get)
            if failure is not None:
                return refuse(failure, method, peer)
        cycle = await manager.open(
            request.headers.getall("Cookie", []),
            client=peer,
            token_headers=tokens,
            user_agent=request.headers.get("User-Agent"),
            tenant=tenant,
        )
        if csrf is not None:
            context = request[_CSRF] = CsrfContext(csrf, cycle)
            if unsafe and context.requires_token:
                failure = context.check_token(await _presented_token(request, context))
                if failure is not None:
                    return refuse(failure, method, peer)
        state = request[_STATE] = _State(cycle, commit_on_error)
        try:
            return await _answer(request, await handler(request), state, manager)
        except StoreUnavailableError as exc:
            if state.committed:
                raise
            state.committed = True
            await manager.refuse(cycle, exc)
            failed_commit = await _failed_commit(manager, state)
            return _error(503, "Service Unavailable", failed_commit)
        finally:
            if state.committed:  # a logout() while the body streamed ends the session now
                await manager.after_response(cycle)

    return middleware


def setup(
    app: web.Application,
    *,
    store: AsyncSessionStore | CookieStore | None = None,
    config: SessionConfig | None = None,
    manager: AsyncSessionManager | None = None,
    observer: Observer | None = None,
    csrf: CsrfOptions | bool | None = None,
    tenants: Mapping[str, str] | Callable[[str], str | None] | None = None,
    commit_on_error: bool = False,
) -> AsyncSessionManager:
    """Install sessionary on ``app``; returns the manager.

    ``commit_on_error=True`` commits the changes of a failed request (the handler raised,
    or the response is a 5xx) too; by default only a logout or a rotation is.
    """
    if manager is None:
        if store is None or config is None:
            msg = "setup() needs store= and config= (or a manager=)"
            raise ConfigurationError(msg)
        manager = AsyncSessionManager(store, config, observer=observer)
    app[_MANAGER_KEY] = manager
    resolver = TenantResolver(tenants) if tenants is not None else None
    guard = make_guard(manager.core, csrf)
    middleware = session_middleware(manager, guard, resolver, commit_on_error=commit_on_error)
    app.middlewares.append(middleware)
    app.on_response_prepare.append(_on_prepare)

    async def close_store(app: web.Application) -> None:
        await manager.aclose()

    app.on_cleanup.append(close_store)
    return manager
