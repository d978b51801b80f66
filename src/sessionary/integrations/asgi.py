"""Pure ASGI session middleware for Starlette, FastAPI and any ASGI application.

::

    app.add_middleware(SessionMiddleware, store=AsyncRedisStore.from_url(url), config=config)

``scope["session"]`` (Starlette's ``request.session``) is a :class:`~sessionary.Session`;
:func:`get_session` returns it typed, :func:`get_manager` the manager ("Your devices"
pages). The session is committed before ``http.response.start`` (or ``websocket.accept``)
goes out. Close the store in the application's lifespan (``await store.aclose()``).

The options are every adapter's (:class:`~sessionary.sansio.gate.GateOptions`,
``docs/adapters.md``): ``csrf=`` (the token from ``X-CSRF-Token`` or the ``csrf_token`` field
of a URL-encoded form, buffered up to ``max_form_bytes`` and replayed; :func:`csrf_token`),
``tenants=``, ``lock=`` and ``store_down=`` (a value or a function of the scope),
``commit_on_error=``, and ``websocket_origins=``: a handshake whose ``Origin`` is neither
the ``Host`` nor listed is closed 1008 before the session is loaded.

A failed request commits only a logout or an explicit rotation; when the ID changed and the
error reached this middleware, it sends the 500 with the cookie itself, then re-raises. A
store outage answers 503 without ``Set-Cookie``, also when the middleware wraps a whole
Starlette/FastAPI app (it registers an exception handler on it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from sessionary._async.manager import AsyncSessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError
from sessionary.integrations._asgi import (
    MANAGER_SCOPE_KEY,
    TENANT_SCOPE_KEY,
    Exchange,
    Receive,
    Scope,
    Send,
    read_form,
    refuse,
    scope_info,
    with_strict_transport,
)
from sessionary.integrations._asgi_deferred import (
    DEFERRED_KEY,
    Deferred,
    blind_methods,
    id_headers,
    presents_id,
)
from sessionary.integrations._asgi_outages import answer_store_outages
from sessionary.integrations._csrf import CONTEXT_KEY, CsrfContext, context_for, find_context
from sessionary.integrations._manager import gate_for, manager_for
from sessionary.observability import Observer
from sessionary.sansio.gate import NeedForm, Open, Refuse, StoreDownChoice, WebSocketGateOptions
from sessionary.sansio.session import Session
from sessionary.stores.base import AsyncSessionStore
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "Receive",
    "Scope",
    "Send",
    "SessionMiddleware",
    "StoreDownChoice",
    "csrf_context",
    "csrf_token",
    "get_manager",
    "get_session",
    "load_session",
]

ASGIApp = Callable[[Scope, Receive, Send], Any]
_CSRF_HINT = "pass csrf=True to SessionMiddleware"


def _scope_of(connection: object) -> Mapping[str, Any]:
    scope = getattr(connection, "scope", connection)
    return scope if isinstance(scope, MutableMapping) else {}


def get_session(connection: object) -> Session:
    """The :class:`~sessionary.Session` of a request, websocket or raw ASGI scope, typed."""
    session = _scope_of(connection).get("session")
    if not isinstance(session, Session):
        msg = "no sessionary session on this connection: is SessionMiddleware installed?"
        raise ConfigurationError(msg)
    return session


def get_manager(connection: object) -> AsyncSessionManager:
    """The :class:`~sessionary.AsyncSessionManager` serving a request (user-level operations)."""
    manager = _scope_of(connection).get(MANAGER_SCOPE_KEY)
    if not isinstance(manager, AsyncSessionManager):
        msg = "no sessionary manager on this connection: is SessionMiddleware installed?"
        raise ConfigurationError(msg)
    return manager


async def load_session(connection: object) -> Session:
    """The request's session, loaded now if the mount is ``lazy=True`` (one round trip).

    Without ``lazy=True`` the session is already loaded and this returns it at once.
    """
    scope = _scope_of(connection)
    deferred = scope.get(DEFERRED_KEY)
    if isinstance(deferred, Deferred):
        return await deferred.load()
    return get_session(connection)


def csrf_context(connection: object) -> CsrfContext:
    """The request's CSRF helper (``SessionMiddleware(..., csrf=True)`` must be installed)."""
    return find_context(getattr(connection, "scope", connection), CONTEXT_KEY, _CSRF_HINT)


def csrf_token(connection: object) -> str:
    """A masked CSRF token for this response (send it back in ``X-CSRF-Token``/``csrf_token``)."""
    return csrf_context(connection).token()


class SessionMiddleware:
    """Loads the session before the app runs and commits it before the response starts."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: AsyncSessionStore | CookieStore | None = None,
        config: SessionConfig | None = None,
        manager: AsyncSessionManager | None = None,
        observer: Observer | None = None,
        lazy: bool = False,
        **options: Unpack[WebSocketGateOptions],
    ) -> None:
        manager = manager_for(
            AsyncSessionManager,
            manager,
            store,
            config,
            observer=observer,
            owner="SessionMiddleware",
        )
        self.app = app
        self.manager = manager
        self.gate = gate_for(manager, options)
        self.lazy = lazy
        self._id_headers = id_headers(self.gate)
        self._blind = blind_methods(self.gate)
        answer_store_outages(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        kind = scope["type"]
        if kind == "http":
            if self.gate.strict_transport is not None:
                hsts = self.gate.strict_transport_for(scope.get("scheme", "http"))
                if hsts is not None:
                    send = with_strict_transport(send, hsts)
            if scope.get("method", "GET") in self._blind and not presents_id(
                scope["headers"], self._id_headers
            ):
                deferred = Deferred.anonymous(self.manager, self.gate, scope, send)
                await deferred.serve(self.app, receive)
                return
        elif kind != "websocket":
            await self.app(scope, receive, send)
            return
        manager, gate = self.manager, self.gate
        info = scope_info(scope, gate.token_header)
        if self.lazy and kind == "http":
            opened = gate.decide(info, scope)
            if isinstance(opened, Open) and not opened.check_token and not opened.lock:
                deferred = Deferred(manager, gate, scope, send, opened=opened, info=info)
                await deferred.serve(self.app, receive)
                return
        entry = await manager.admit(gate, info, scope)
        if isinstance(entry, NeedForm):
            info, receive = await read_form(info, receive, entry)
            entry = await manager.admit(gate, info, scope)
        assert not isinstance(entry, NeedForm)  # the form was read
        if isinstance(entry, Refuse):
            await refuse(entry, receive, send)
            return
        scope["session"] = entry.session
        scope[MANAGER_SCOPE_KEY] = manager
        scope[TENANT_SCOPE_KEY] = entry.tenant  # for user operations: revoke_user(tenant=...)
        scope[CONTEXT_KEY] = context_for(gate, entry)
        exchange = Exchange(manager, gate, entry, send, info.websocket)
        try:
            await self.app(scope, receive, exchange.send)
        except Exception as exc:
            if exchange.settled or not await exchange.answered(exc):
                raise
        finally:
            await manager.after_response(entry)  # a late logout() ends the session now
