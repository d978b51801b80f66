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
and without a ``Set-Cookie`` that would overwrite the client's cookie (R77) — also when the
middleware wraps a whole Starlette/FastAPI app (``SessionMiddleware(app, ...)``: it gives the
app an exception handler for ``StoreUnavailableError``); a commit refused under the ``raise``
conflict policy answers 409.

A failed request — the application raised, or its status is 5xx — commits only a logout or an
explicit rotation, and its 500 carries the cleared cookie or the new ID (sent by this
middleware when the framework's own 500 could not carry it; the error is re-raised for the
server to log). ``commit_on_error=True`` commits a failed request like a successful one. A
``logout()`` while a streamed body is sent raises ``SessionClosedError`` (the cookie cannot
be cleared any more) and the stored session ends when the application returns. See
``docs/adapters.md``.

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

CSRF protection: by default unsafe requests must pass the Origin / ``Sec-Fetch-Site`` check
(before the session is loaded; ``csrf=False`` turns it off). With ``csrf=True`` or
``csrf=CsrfOptions(...)`` they must also carry a valid token in
the ``X-CSRF-Token`` header or, for URL-encoded forms, the ``csrf_token`` field (the body is
buffered up to ``max_form_bytes`` and replayed to the application). Failures answer 403 with
a generic body and emit a ``csrf_fail`` event. :func:`csrf_token` gives the masked token for
a template or a script.

Tenants (``tenants={"a.example.com": "a", ...}`` or a callable ``host -> tenant``): the tenant
is resolved from the ``Host`` header on the server and bound into every storage key and the
sealed cookie's AAD, so a session of one tenant is anonymous under another. A host that
resolves to no tenant is answered ``400 Bad Request`` before any session work.

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

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from sessionary._async.manager import AsyncSessionManager
from sessionary.config import SessionConfig, StoreDownPolicy
from sessionary.exceptions import (
    ConfigurationError,
    LockError,
    StoreError,
    StoreUnavailableError,
)
from sessionary.integrations._commit_errors import (
    COMMIT_ERRORS,
    commit_failure,
    delivers_id,
    failed,
    store_was_down,
)
from sessionary.integrations._csrf import (
    CONTEXT_KEY,
    CsrfContext,
    find_context,
    form_token,
    is_form,
    make_guard,
    origin_failure,
    report,
)
from sessionary.observability import Observer
from sessionary.sansio.csrf import FORBIDDEN_BODY, CsrfFailure, CsrfOptions
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.headers import merge_raw_headers
from sessionary.sansio.session import Session
from sessionary.sansio.tenants import TenantResolver
from sessionary.stores.base import AsyncSessionStore
from sessionary.stores.cookie import CookieStore

__all__ = ["SessionMiddleware", "csrf_context", "csrf_token", "get_manager", "get_session"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StoreDownChoice = StoreDownPolicy | str | Callable[[Scope], StoreDownPolicy | str | None]
"""A store-down policy for every request, or a function choosing one per request (scope)."""
MANAGER_SCOPE_KEY = "sessionary.manager"
_ORIGIN_HEADERS = frozenset({b"host", b"origin", b"referer", b"sec-fetch-site"})
TENANT_SCOPE_KEY = "sessionary.tenant"


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


def csrf_context(connection: object) -> CsrfContext:
    """The request's CSRF helper (``SessionMiddleware(..., csrf=True)`` must be installed)."""
    return find_context(getattr(connection, "scope", connection), CONTEXT_KEY, "SessionMiddleware")


def csrf_token(connection: object) -> str:
    """A masked CSRF token for this response (send it back in ``X-CSRF-Token``/``csrf_token``)."""
    return csrf_context(connection).token()


async def _buffered_form(receive: Receive, limit: int) -> tuple[bytes, Receive] | None:
    """Read a URL-encoded body (at most ``limit`` bytes) and a ``receive`` that replays it."""
    messages: list[Message] = []
    size = 0
    more = True
    while more:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > limit:
            return None
        more = bool(message.get("more_body", False))
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


async def _send_error(
    send: Send, status: int, text: bytes, update: ResponseUpdate | None = None
) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(text)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if update is not None:
        headers = merge_raw_headers(headers, update)
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
        store: AsyncSessionStore | CookieStore | None = None,
        config: SessionConfig | None = None,
        manager: AsyncSessionManager | None = None,
        observer: Observer | None = None,
        websocket_origins: Iterable[str] | None = None,
        lock: Callable[[Scope], bool] | None = None,
        csrf: CsrfOptions | bool | None = None,
        tenants: Mapping[str, str] | Callable[[str], str | None] | None = None,
        store_down: StoreDownChoice | None = None,
        commit_on_error: bool = False,
    ) -> None:
        if manager is None:
            if store is None or config is None:
                msg = "SessionMiddleware needs store= and config= (or a manager=)"
                raise ConfigurationError(msg)
            manager = AsyncSessionManager(store, config, observer=observer)
        self.app = app
        self.manager = manager
        self.commit_on_error = commit_on_error
        """Commit a failed request's changes too (default: only a logout or rotation)."""
        _answer_store_outages(app)
        self.lock = lock
        self.csrf = make_guard(manager.core, csrf)
        self.tenants = TenantResolver(tenants) if tenants is not None else None
        self.store_down: Callable[[Scope], StoreDownPolicy | None] = _store_down_chooser(store_down)
        header = manager.request_header
        self._token_header = header.encode("latin-1") if header is not None else None
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

    async def _check_token(
        self, scope: Scope, receive: Receive, context: CsrfContext
    ) -> tuple[CsrfFailure | None, Receive]:
        """Verify the header or form token; returns the ``receive`` to hand on."""
        presented = _header(scope, context.header_name.lower().encode("latin-1"))
        content_type = _header(scope, b"content-type")
        if presented is None and is_form(content_type):
            guard = self.csrf
            assert guard is not None
            buffered = await _buffered_form(receive, guard.options.max_form_bytes)
            if buffered is not None:
                body, receive = buffered
                presented = form_token(body, content_type, context.field_name)
        return context.check_token(presented), receive

    async def _open(self, scope: Scope, client_ip: str | None, tenant: str) -> SessionCycle:
        headers = scope["headers"]
        cookies = [v.decode("latin-1") for k, v in headers if k == b"cookie"]
        token_header = self._token_header
        tokens = (
            [v.decode("latin-1") for k, v in headers if k == token_header]
            if token_header is not None
            else ()
        )
        return await self.manager.open(
            cookies,
            client=client_ip,
            token_headers=tokens,
            user_agent=_header(scope, b"user-agent"),
            lock=self.lock is not None and self.lock(scope),
            tenant=tenant,
            store_down=self.store_down(scope),
        )

    async def _origin_refused(
        self, scope: Scope, send: Send, method: str, client_ip: str | None
    ) -> bool:
        guard = self.csrf
        assert guard is not None
        found: dict[str, str] = {}
        for key, value in scope["headers"]:  # one pass for the four headers the check reads
            if key in _ORIGIN_HEADERS:
                found.setdefault(key.decode("latin-1"), value.decode("latin-1"))
        failure = origin_failure(guard, method, scope.get("scheme", "http"), found.get)
        if failure is None:
            return False
        await self._refuse(send, failure, method, client_ip)
        return True

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> str | None:
        """The request's tenant (``""`` without tenants), or ``None`` once it was refused.

        Refused: a WebSocket handshake from a foreign ``Origin`` (closed 1008) and a host that
        resolves to no tenant (400, or 1008 for a WebSocket), before any session work.
        """
        websocket = scope["type"] == "websocket"
        tenant: str | None = ""
        if self.tenants is not None:
            tenant = self.tenants.resolve(_header(scope, b"host"))
        if websocket and (tenant is None or not self._origin_allowed(scope)):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return None
        if tenant is None:
            await _send_error(send, 400, b"Bad Request")
        return tenant

    async def _refuse(
        self, send: Send, failure: CsrfFailure, method: str, client_ip: str | None
    ) -> None:
        report(self.manager.observer, self.manager.core, failure, method, client_ip)
        await _send_error(send, 403, FORBIDDEN_BODY)

    async def _csrf_refused(
        self, scope: Scope, receive: Receive, send: Send, cycle: SessionCycle
    ) -> Receive | None:
        """Install the CSRF context; for unsafe requests check the token (``None``: refused)."""
        guard = self.csrf
        if guard is None:
            return receive
        context = scope[CONTEXT_KEY] = CsrfContext(guard, cycle)
        method = scope.get("method", "GET")
        if scope["type"] != "http" or not guard.is_unsafe(method) or not context.requires_token:
            return receive
        failure, receive = await self._check_token(scope, receive, context)
        if failure is None:
            return receive
        client = scope.get("client")
        await self.manager.discard(cycle)  # no commit will come: release a lock
        await self._refuse(send, failure, method, client[0] if client else None)
        return None

    async def _start(
        self, scope: Scope, receive: Receive, send: Send
    ) -> tuple[SessionCycle, Receive] | None:
        """Admit the request and load its session; ``None`` once it was answered instead."""
        tenant = await self._admit(scope, receive, send)
        if tenant is None:
            return None
        kind = scope["type"]
        method = scope.get("method", "GET")
        client = scope.get("client")
        client_ip = client[0] if client else None
        unsafe = self.csrf is not None and kind == "http" and self.csrf.is_unsafe(method)
        if unsafe and await self._origin_refused(scope, send, method, client_ip):
            return None
        try:
            cycle = await self._open(scope, client_ip, tenant)
        except LockError:
            if kind != "http":
                raise
            await _send_error(send, 409, b"Conflict")
            return None
        scope["session"] = cycle.session
        scope[MANAGER_SCOPE_KEY] = self.manager
        scope[TENANT_SCOPE_KEY] = tenant  # for user operations: revoke_user(..., tenant=...)
        checked = await self._csrf_refused(scope, receive, send, cycle)
        if checked is None:
            return None
        return cycle, checked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started_cycle = await self._start(scope, receive, send)
        if started_cycle is None:
            return  # refused (tenant, origin, CSRF or a busy lock): the answer was sent
        cycle, receive = started_cycle
        exchange = _Exchange(self, cycle, send, kind)
        try:
            await self.app(scope, receive, exchange.send)
        except Exception as exc:
            if exchange.committed:
                raise
            answered = await exchange.app_failed(exc)
            if not answered or not isinstance(exc, StoreUnavailableError):
                raise
        finally:
            await exchange.end()


class _Exchange:
    """One connection: commits as the response starts; answers what the application could not.

    A *failed* request (the application raised, or its status is 5xx) commits only a logout
    or an explicit rotation (``commit_on_error=True``: everything), and the response still
    carries the resulting ``Set-Cookie``.
    """

    __slots__ = ("committed", "cycle", "kind", "middleware", "raw_send", "replaced", "start_type")

    def __init__(
        self, middleware: SessionMiddleware, cycle: SessionCycle, send: Send, kind: str
    ) -> None:
        self.middleware = middleware
        self.cycle = cycle
        self.raw_send = send
        self.kind = kind
        self.start_type = "http.response.start" if kind == "http" else "websocket.accept"
        self.committed = False
        """The commit was made (or tried): the session's fate for this request is decided."""
        self.replaced = False
        """The application's response was replaced by an error response."""

    async def send(self, message: Message) -> None:
        """The ``send`` the application gets: commits before the response starts."""
        if message["type"] == self.start_type and not self.committed:
            await self._commit_for(message)
        if not self.replaced:
            await self.raw_send(message)

    async def _commit_for(self, message: Message) -> None:
        self.committed = True
        manager = self.middleware.manager
        cycle = self.cycle
        status = int(message.get("status", 200)) if self.kind == "http" else 200
        if self.kind == "http" and store_was_down(status, cycle):
            # The framework turned the session's StoreUnavailableError into its own 500.
            await manager.commit(cycle, failed=True)  # no I/O: records fail_closed
            await self._replace(503, "Service Unavailable")
            return
        try:
            update = await manager.commit(
                cycle, failed=failed(status, self.middleware.commit_on_error)
            )
        except COMMIT_ERRORS as error:
            if self.kind == "websocket" and isinstance(error, StoreUnavailableError):
                raise
            await self._replace(*commit_failure(error))
            return
        message["headers"] = merge_raw_headers(message.get("headers", ()), update)

    async def _replace(self, status: int, reason: str) -> None:
        self.replaced = True
        await _send_error(self.raw_send, status, reason.encode())

    async def app_failed(self, error: Exception) -> bool:
        """The application raised before its response started; ``True`` once answered here.

        The failed request is committed (a logout or rotation must hold). A store outage is
        answered 503; another error is answered 500 here only when the client's ID changed
        (the framework's own 500, outside this middleware, could not carry the cookie),
        else left to the framework.
        """
        self.committed = True
        manager = self.middleware.manager
        cycle = self.cycle
        unavailable = isinstance(error, StoreUnavailableError)
        if unavailable:
            await manager.refuse(cycle, error)
        update: ResponseUpdate | None
        try:
            update = await manager.commit(cycle, failed=not self.middleware.commit_on_error)
        except COMMIT_ERRORS:
            update = None  # the request fails anyway: the application's error is the answer
        if self.kind != "http":
            return False
        if unavailable:
            await _send_error(self.raw_send, 503, b"Service Unavailable", update)
            return True
        if update is not None and delivers_id(update):
            await _send_error(self.raw_send, 500, b"Internal Server Error", update)
            return True
        return False

    async def end(self) -> None:
        """The connection is over: a late ``logout()`` ends the session now; locks go."""
        if self.committed:
            await self.middleware.manager.after_response(self.cycle)
        else:
            await self.middleware.manager.discard(self.cycle)  # no commit came: release a lock


class _PlainResponse:
    """A minimal ASGI response (for an exception handler registered on a wrapped app)."""

    def __init__(self, status: int, text: bytes) -> None:
        self.status = status
        self.text = text

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_error(send, self.status, self.text)


async def _store_unavailable(connection: object, error: Exception) -> _PlainResponse:
    scope = getattr(connection, "scope", None)
    if not isinstance(scope, MutableMapping) or scope.get("type") != "http":
        raise error  # a WebSocket: it reaches the middleware and the server, as before
    return _PlainResponse(503, b"Service Unavailable")


def _answer_store_outages(app: object) -> None:
    """Give a wrapped Starlette/FastAPI app a 503 handler for ``StoreUnavailableError``.

    ``SessionMiddleware(Starlette(...), ...)`` sits outside the app's own
    ``ServerErrorMiddleware``, which answers any unhandled exception 500 before this
    middleware could answer 503; an exception handler runs first. A handler the app has
    for the error (or one of its sessionary base classes) is kept.
    """
    handlers = getattr(app, "exception_handlers", None)
    add = getattr(app, "add_exception_handler", None)
    if not isinstance(handlers, dict) or not callable(add):
        return
    if any(cls in handlers for cls in StoreUnavailableError.__mro__ if issubclass(cls, StoreError)):
        return
    add(StoreUnavailableError, _store_unavailable)


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
