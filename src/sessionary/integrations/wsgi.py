"""Generic WSGI middleware, for any WSGI application (Falcon, Bottle, Pyramid, plain WSGI).

::

    from sessionary import SessionConfig
    from sessionary.stores import RedisStore
    from sessionary.integrations.wsgi import SessionMiddleware, get_session

    application = SessionMiddleware(
        application,
        store=RedisStore.from_url("redis://localhost:6379/0"),
        config=SessionConfig(secret_keys=[os.environ["SESSION_SECRET"]]),
    )

    def view(environ, start_response):
        session = get_session(environ)   # environ["sessionary.session"]
        ...

The session is committed inside ``start_response``, before the status and headers can leave
the server; a change made while the body is being iterated raises
:class:`~sessionary.exceptions.SessionClosedError` instead of being dropped silently (R85).
When the store is down, only requests that touch the session fail, with a generic 503 and no
``Set-Cookie``; a commit refused under the ``raise`` conflict policy answers 409.

``csrf=True`` (or ``csrf=CsrfOptions(...)``) checks unsafe requests: Origin / Fetch Metadata
first, then the token from the ``X-CSRF-Token`` header or the ``csrf_token`` field of a
URL-encoded form (read up to ``max_form_bytes`` and put back in ``wsgi.input``); failures
answer 403. :func:`csrf_token` gives the masked token for a template.

``tenants={host: tenant}`` (or a callable ``host -> tenant``) resolves the tenant from
``HTTP_HOST`` on the server and binds it into every storage key and the sealed cookie's AAD;
a host without a tenant is answered 400 before any session work.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

from sessionary._sync.manager import SessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError, StoreUnavailableError
from sessionary.integrations._commit_errors import COMMIT_ERRORS, commit_failure
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
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.headers import merge_headers
from sessionary.sansio.session import Session
from sessionary.sansio.tenants import TenantResolver
from sessionary.stores.base import Store
from sessionary.stores.cookie import CookieStore

__all__ = ["ENVIRON_KEY", "SessionMiddleware", "csrf_context", "csrf_token", "get_session"]

ENVIRON_KEY = "sessionary.session"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_ERRORS = {
    400: ("400 Bad Request", b"Bad Request"),
    403: ("403 Forbidden", FORBIDDEN_BODY),  # a refused origin or CSRF token, a session limit
    503: ("503 Service Unavailable", b"Service Unavailable"),
    409: ("409 Conflict", b"Conflict"),
}


def get_session(environ: dict[str, Any], key: str = ENVIRON_KEY) -> Session:
    """The :class:`~sessionary.Session` of a WSGI request."""
    session = environ.get(key)
    if not isinstance(session, Session):
        msg = "no sessionary session in this environ: is the WSGI SessionMiddleware installed?"
        raise ConfigurationError(msg)
    return session


def csrf_context(environ: dict[str, Any]) -> CsrfContext:
    """The request's CSRF helper (``SessionMiddleware(..., csrf=True)`` must be installed)."""
    return find_context(environ, CONTEXT_KEY, "SessionMiddleware")


def csrf_token(environ: dict[str, Any]) -> str:
    """A masked CSRF token for this response (send it back in ``X-CSRF-Token``/``csrf_token``)."""
    return csrf_context(environ).token()


def _form_token(environ: dict[str, Any], field: str, limit: int) -> str | None:
    """The token field of a URL-encoded body; the body is put back for the application."""
    content_type = environ.get("CONTENT_TYPE")
    if not is_form(content_type):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= limit:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return form_token(body, content_type, field)


def _environ_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _error_headers(body: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]


class _Exchange:
    """One request: commits on ``start_response`` and swaps in an error response if needed."""

    def __init__(self, manager: SessionManager, cycle: SessionCycle, start: StartResponse) -> None:
        self.manager = manager
        self.cycle = cycle
        self.start = start
        self.started = False
        self.error_body: bytes | None = None

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if self.started:  # an error handler restarting the response: headers already merged
            return self.start(status, headers, exc_info)
        self.started = True
        try:
            update = self.manager.commit(self.cycle)
        except COMMIT_ERRORS as error:
            return self.fail(commit_failure(error)[0])
        return self.start(status, merge_headers(headers, update), exc_info)

    def fail(self, code: int) -> Callable[[bytes], object]:
        status, body = _ERRORS[code]
        self.error_body = body
        return self.start(status, _error_headers(body))


class SessionMiddleware:
    """Loads the session into ``environ`` and commits it before the response starts."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        store: Store | CookieStore | None = None,
        config: SessionConfig | None = None,
        manager: SessionManager | None = None,
        observer: Observer | None = None,
        environ_key: str = ENVIRON_KEY,
        csrf: CsrfOptions | bool | None = None,
        tenants: Mapping[str, str] | Callable[[str], str | None] | None = None,
    ) -> None:
        if manager is None:
            if store is None or config is None:
                msg = "SessionMiddleware needs store= and config= (or a manager=)"
                raise ConfigurationError(msg)
            manager = SessionManager(store, config, observer=observer)
        self.app = app
        self.manager = manager
        self.environ_key = environ_key
        self.csrf = make_guard(manager.core, csrf)
        self.tenants = TenantResolver(tenants) if tenants is not None else None
        header = manager.request_header
        self._token_key = _environ_name(header) if header is not None else None

    def open(self, environ: dict[str, Any], tenant: str = "") -> SessionCycle:
        """Read the ID from ``environ`` and load the session (for ``tenant``, if any)."""
        cookie = environ.get("HTTP_COOKIE")
        tokens: tuple[str, ...] = ()
        if self._token_key is not None and self._token_key in environ:
            tokens = (environ[self._token_key],)
        return self.manager.open(
            [cookie] if cookie else [],
            client=environ.get("REMOTE_ADDR"),
            token_headers=tokens,
            user_agent=environ.get("HTTP_USER_AGENT"),
            tenant=tenant,
        )

    def _refuse(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        failure: CsrfFailure,
        method: str,
    ) -> list[bytes]:
        report(
            self.manager.observer, self.manager.core, failure, method, environ.get("REMOTE_ADDR")
        )
        status, body = _ERRORS[403]
        start_response(status, _error_headers(body))
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Handle one WSGI request."""
        tenant = ""
        if self.tenants is not None:
            resolved = self.tenants.resolve(environ.get("HTTP_HOST"))
            if resolved is None:  # a host no tenant is configured for: no session at all
                status, text = _ERRORS[400]
                start_response(status, _error_headers(text))
                return [text]
            tenant = resolved
        guard = self.csrf
        method = environ.get("REQUEST_METHOD", "GET")
        unsafe = guard is not None and guard.is_unsafe(method)
        if unsafe:
            assert guard is not None
            failure = origin_failure(
                guard,
                method,
                environ.get("wsgi.url_scheme", "http"),
                lambda name: environ.get(_environ_name(name)),
            )
            if failure is not None:
                return self._refuse(environ, start_response, failure, method)
        cycle = self.open(environ, tenant)
        environ[self.environ_key] = cycle.session
        if guard is not None:
            context = environ[CONTEXT_KEY] = CsrfContext(guard, cycle)
            if unsafe and context.requires_token:
                presented = environ.get(_environ_name(context.header_name))
                if presented is None:
                    limit = guard.options.max_form_bytes
                    presented = _form_token(environ, context.field_name, limit)
                failure = context.check_token(presented)
                if failure is not None:
                    return self._refuse(environ, start_response, failure, method)
        exchange = _Exchange(self.manager, cycle, start_response)
        try:
            body = self.app(environ, exchange.start_response)
        except StoreUnavailableError as exc:
            if exchange.started:
                raise
            self.manager.refuse(cycle, exc)
            exchange.fail(503)
            return [exchange.error_body or b""]
        return _Body(body, exchange)


class _Body:
    """The app's body, replaced by the error body if the commit failed (even lazily)."""

    def __init__(self, body: Iterable[bytes], exchange: _Exchange) -> None:
        self.body = body
        self.exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        if self.exchange.error_body is not None:
            yield self.exchange.error_body
            return
        for chunk in self.body:
            if self.exchange.error_body is not None:  # start_response was called lazily
                yield self.exchange.error_body
                return
            yield chunk

    def close(self) -> None:
        """Close the app's body (PEP 3333)."""
        close = getattr(self.body, "close", None)
        if close is not None:
            close()
