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
``Set-Cookie`` (also when a wrapped framework answered the session's error 500 itself); a
commit refused under the ``raise`` conflict policy answers 409.

A failed request — the application raised, or its status is 5xx — commits only a logout or an
explicit rotation (``commit_on_error=True``: everything). When the client's ID changed, an
application error is answered 500 here with the cookie, then raised from the body for the
server to log; otherwise the server answers it. A ``logout()`` while the body is iterated ends
the stored session when the server closes the body. See ``docs/adapters.md``.

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
from sessionary.sansio.headers import merge_headers
from sessionary.sansio.session import Session
from sessionary.sansio.tenants import TenantResolver
from sessionary.stores.base import SessionStore
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
    500: ("500 Internal Server Error", b"Internal Server Error"),  # a failed request's cookie
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


def _status_code(status: str) -> int:
    try:
        return int(status[:3])
    except ValueError:
        return 500  # not a status line: whatever the server makes of it, it is no success


class _Exchange:
    """One request: commits on ``start_response`` and swaps in an error response if needed.

    A *failed* request (the application raised, or its status is 5xx) commits only a logout
    or an explicit rotation (``commit_on_error=True``: everything), and the response still
    carries the resulting ``Set-Cookie``.
    """

    def __init__(
        self,
        manager: SessionManager,
        cycle: SessionCycle,
        start: StartResponse,
        commit_on_error: bool,
    ) -> None:
        self.manager = manager
        self.cycle = cycle
        self.start = start
        self.commit_on_error = commit_on_error
        self.committed = False
        """The commit was made (or tried): the session's fate for this request is decided."""
        self.error_body: bytes | None = None

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if self.committed:  # an error handler restarting the response: headers already merged
            return self.start(status, headers, exc_info)
        self.committed = True
        code = _status_code(status)
        if store_was_down(code, self.cycle):  # e.g. a wrapped Flask app answered the error 500
            self.manager.commit(self.cycle, failed=True)  # no I/O: records fail_closed
            return self.fail(503)
        try:
            update = self.manager.commit(self.cycle, failed=failed(code, self.commit_on_error))
        except COMMIT_ERRORS as error:
            return self.fail(commit_failure(error)[0])
        return self.start(status, merge_headers(headers, update), exc_info)

    def fail(self, code: int, update: ResponseUpdate | None = None) -> Callable[[bytes], object]:
        status, body = _ERRORS[code]
        self.error_body = body
        headers = _error_headers(body)
        return self.start(status, merge_headers(headers, update) if update else headers)

    def app_failed(self, error: Exception) -> bool:
        """The application raised before its response started; ``True`` once answered here.

        The failed request is committed (a logout or rotation must hold). A store outage is
        answered 503; another error is answered 500 here only when the client's ID changed
        (the server's own 500 could not carry the cookie), else left to the server.
        """
        self.committed = True
        unavailable = isinstance(error, StoreUnavailableError)
        if unavailable:
            self.manager.refuse(self.cycle, error)
        update: ResponseUpdate | None
        try:
            update = self.manager.commit(self.cycle, failed=not self.commit_on_error)
        except COMMIT_ERRORS:
            update = None  # the request fails anyway: the application's error is the answer
        if unavailable:
            self.fail(503, update)
        elif update is not None and delivers_id(update):
            self.fail(500, update)
        else:
            return False
        return True

    def end(self) -> None:
        """The response is over: a late ``logout()`` ends the session now; locks go."""
        if self.committed:
            self.manager.after_response(self.cycle)
        else:
            self.manager.discard(self.cycle)  # no commit came: release a lock


class SessionMiddleware:
    """Loads the session into ``environ`` and commits it before the response starts."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        store: SessionStore | CookieStore | None = None,
        config: SessionConfig | None = None,
        manager: SessionManager | None = None,
        observer: Observer | None = None,
        environ_key: str = ENVIRON_KEY,
        csrf: CsrfOptions | bool | None = None,
        tenants: Mapping[str, str] | Callable[[str], str | None] | None = None,
        commit_on_error: bool = False,
    ) -> None:
        if manager is None:
            if store is None or config is None:
                msg = "SessionMiddleware needs store= and config= (or a manager=)"
                raise ConfigurationError(msg)
            manager = SessionManager(store, config, observer=observer)
        self.app = app
        self.manager = manager
        self.environ_key = environ_key
        self.commit_on_error = commit_on_error
        """Commit a failed request's changes too (default: only a logout or rotation)."""
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
        exchange = _Exchange(self.manager, cycle, start_response, self.commit_on_error)
        try:
            body = self.app(environ, exchange.start_response)
        except Exception as exc:
            if exchange.committed or not exchange.app_failed(exc):
                raise
            return _Body((), exchange, None if isinstance(exc, StoreUnavailableError) else exc)
        return _Body(body, exchange)


class _Body:
    """The app's body, replaced by the error body if the commit failed (even lazily).

    ``raise_after``: the application's error, raised once the 500 that carries the session's
    cookie was sent (the server logs it, as for any application error). ``close()`` ends the
    exchange: a ``logout()`` made while the body streamed ends the session then.
    """

    def __init__(
        self,
        body: Iterable[bytes],
        exchange: _Exchange,
        raise_after: Exception | None = None,
    ) -> None:
        self.body = body
        self.exchange = exchange
        self.raise_after = raise_after

    def __iter__(self) -> Iterator[bytes]:
        exchange = self.exchange
        if exchange.error_body is not None:
            yield exchange.error_body
            if self.raise_after is not None:
                raise self.raise_after
            return
        try:
            for chunk in self.body:
                if exchange.error_body is not None:  # start_response was called lazily
                    yield exchange.error_body
                    return
                yield chunk
        except Exception as exc:
            if exchange.committed or not exchange.app_failed(exc):
                raise  # a generator that raised before start_response: as at call time
            yield exchange.error_body or b""
            if not isinstance(exc, StoreUnavailableError):
                raise

    def close(self) -> None:
        """Close the app's body (PEP 3333), then end the exchange."""
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.exchange.end()
