"""Pure ASGI session middleware for Starlette, FastAPI and any ASGI application.

::

    from sessionary import SessionConfig
    from sessionary.stores import AsyncRedisStore
    from sessionary.integrations.asgi import SessionMiddleware

    app.add_middleware(
        SessionMiddleware,
        store=AsyncRedisStore.from_url("redis://localhost:6379/0"),
        config=SessionConfig(secret_keys=[os.environ["SESSION_SECRET"]]),
    )

``scope["session"]`` (Starlette's ``request.session``) is a :class:`~sessionary.Session`.
Starlette annotates ``request.session`` as a ``dict``; use :func:`get_session` for the typed
object (``get_session(request).login("42")`` type-checks). Close the store in the
application's lifespan (``await store.aclose()``) so its connections end with the loop.
The session is committed before ``http.response.start`` goes out, so ``Set-Cookie`` is never
late. When the store is down, only requests that touch the session fail, with a generic 503
and without a ``Set-Cookie`` that would overwrite the client's cookie (R77); a commit refused
under the ``raise`` conflict policy answers 409.

WebSocket handshakes are checked against an ``Origin`` allowlist *before* the session is
loaded (cross-site WebSocket hijacking rides on the cookie): by default the ``Origin`` must be
the same as the ``Host`` the client connected to; pass ``websocket_origins=[...]`` to allow
other exact origins. A refused handshake is closed with code 1008 (policy violation). Clients
that send no ``Origin`` (not browsers) are not subject to the check.

With ``SessionConfig(transport="header")`` the ID is read from the configured request header
and returned in the response header; cookies are ignored on that mount.

``lock=`` opts requests into the per-session lock (for read-modify-write flows): a callable
given the scope, e.g. ``lock=lambda scope: scope["method"] == "POST"``. A lock that stays busy
or is lost answers 409. A login beyond ``max_sessions_per_user`` (policy ``reject_new``)
answers 403 unless the handler checked first (:func:`get_manager` gives the manager, whose
``count_user_sessions``, ``list_user_sessions``, ``revoke_user`` and ``revoke_session`` serve
"Your devices" pages).

Store down: ``config.store_down`` is the application's policy (``fail_closed`` by default);
``store_down=`` overrides it, either with one policy or per request with a function of the
ASGI scope, e.g. ``fail_open_readonly`` on public pages only::

    def store_down(scope):
        if scope["path"] == "/" or scope["path"].startswith("/blog/"):
            return StoreDownPolicy.FAIL_OPEN_READONLY
        return None  # the application's policy

    app.add_middleware(SessionMiddleware, store=store, config=config, store_down=store_down)

Every 503 for want of the store is reported to the observer as a ``fail_closed`` event, every
read-only view as ``fail_open_readonly``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from sessionary._async.manager import AsyncSessionManager
from sessionary.config import SessionConfig, StoreDownPolicy
from sessionary.exceptions import (
    ConfigurationError,
    LockError,
    SessionLimitError,
    StoreConflictError,
    StoreUnavailableError,
)
from sessionary.observability import Observer
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.headers import merge_raw_headers
from sessionary.sansio.session import Session
from sessionary.stores.base import AsyncStore

__all__ = ["SessionMiddleware", "get_manager", "get_session"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StoreDownChoice = StoreDownPolicy | str | Callable[[Scope], StoreDownPolicy | str | None]
"""A store-down policy for every request, or a function choosing one per request (scope)."""
MANAGER_SCOPE_KEY = "sessionary.manager"


def get_session(connection: object) -> Session:
    """The :class:`~sessionary.Session` of a request, websocket or raw ASGI scope, typed.

    Accepts a Starlette/FastAPI ``Request``/``WebSocket`` (anything with ``.scope``) or the
    scope mapping itself.
    """
    scope = getattr(connection, "scope", connection)
    session = scope.get("session") if isinstance(scope, MutableMapping) else None
    if not isinstance(session, Session):
        msg = "no sessionary session on this connection: is SessionMiddleware installed?"
        raise ConfigurationError(msg)
    return session


def get_manager(connection: object) -> AsyncSessionManager:
    """The :class:`~sessionary.AsyncSessionManager` serving a request (user-level operations)."""
    scope = getattr(connection, "scope", connection)
    manager = scope.get(MANAGER_SCOPE_KEY) if isinstance(scope, MutableMapping) else None
    if not isinstance(manager, AsyncSessionManager):
        msg = "no sessionary manager on this connection: is SessionMiddleware installed?"
        raise ConfigurationError(msg)
    return manager


async def _send_error(send: Send, status: int, text: bytes) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(text)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _same_origin(origin: str, scope: Scope) -> bool:
    parts = urlsplit(origin)
    host = _header(scope, b"host")
    expected = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "ws"), "http")
    return host is not None and parts.netloc == host and parts.scheme == expected


class SessionMiddleware:
    """Loads the session before the app runs and commits it before the response starts."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: AsyncStore | None = None,
        config: SessionConfig | None = None,
        manager: AsyncSessionManager | None = None,
        observer: Observer | None = None,
        websocket_origins: Iterable[str] | None = None,
        lock: Callable[[Scope], bool] | None = None,
        store_down: StoreDownChoice | None = None,
    ) -> None:
        if manager is None:
            if store is None or config is None:
                msg = "SessionMiddleware needs store= and config= (or a manager=)"
                raise ConfigurationError(msg)
            manager = AsyncSessionManager(store, config, observer=observer)
        self.app = app
        self.manager = manager
        self.lock = lock
        self.store_down: Callable[[Scope], StoreDownPolicy | None] = _store_down_chooser(store_down)
        self.websocket_origins = None
        if websocket_origins is not None:
            self.websocket_origins = frozenset(o.rstrip("/") for o in websocket_origins)

    def _origin_allowed(self, scope: Scope) -> bool:
        origin = _header(scope, b"origin")
        if origin is None:
            return True
        if self.websocket_origins is None:
            return _same_origin(origin, scope)
        return origin in self.websocket_origins

    async def _open(self, scope: Scope) -> SessionCycle:
        headers = scope["headers"]
        cookies = [v.decode("latin-1") for k, v in headers if k == b"cookie"]
        token_header = self.manager.request_header
        tokens = (
            [v.decode("latin-1") for k, v in headers if k == token_header.encode("latin-1")]
            if token_header is not None
            else ()
        )
        client = scope.get("client")
        return await self.manager.open(
            cookies,
            client=client[0] if client else None,
            token_headers=tokens,
            user_agent=_header(scope, b"user-agent"),
            lock=self.lock is not None and self.lock(scope),
            store_down=self.store_down(scope),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if kind == "websocket" and not self._origin_allowed(scope):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            cycle = await self._open(scope)
        except LockError:
            if kind != "http":
                raise
            await _send_error(send, 409, b"Conflict")
            return
        scope["session"] = cycle.session
        scope[MANAGER_SCOPE_KEY] = self.manager
        start_type = "http.response.start" if kind == "http" else "websocket.accept"
        started = False
        replaced = False

        async def send_with_session(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == start_type and not started:
                started = True
                try:
                    update = await self.manager.commit(cycle)
                except StoreUnavailableError:
                    if kind == "websocket":
                        raise
                    replaced = True
                    await _send_error(send, 503, b"Service Unavailable")
                    return
                except (StoreConflictError, LockError):
                    replaced = True
                    await _send_error(send, 409, b"Conflict")
                    return
                except SessionLimitError:
                    replaced = True
                    await _send_error(send, 403, b"Forbidden")
                    return
                message["headers"] = merge_raw_headers(message.get("headers", ()), update)
            elif replaced:
                return  # the app's response was replaced by an error response
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except StoreUnavailableError as exc:
            if started or kind != "http":
                raise
            await self.manager.refuse(cycle, exc)
            await _send_error(send, 503, b"Service Unavailable")
        finally:
            if not started:
                await self.manager.discard(cycle)  # no commit will come: release a lock


def _policy(value: StoreDownPolicy | str) -> StoreDownPolicy:
    try:
        return StoreDownPolicy(value)
    except ValueError:
        msg = f"unknown store_down policy {value!r}"
        raise ConfigurationError(msg) from None


def _store_down_chooser(
    choice: StoreDownChoice | None,
) -> Callable[[Scope], StoreDownPolicy | None]:
    """Normalise ``store_down=`` into a function of the scope (``None``: the config's)."""
    if choice is None:
        return lambda scope: None
    if isinstance(choice, StoreDownPolicy | str):
        fixed = _policy(choice)
        return lambda scope: fixed
    if not callable(choice):
        msg = "store_down must be a StoreDownPolicy, its name, or a function of the scope"
        raise ConfigurationError(msg)

    def per_request(scope: Scope) -> StoreDownPolicy | None:
        chosen = choice(scope)
        return None if chosen is None else _policy(chosen)

    return per_request
