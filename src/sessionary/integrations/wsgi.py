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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from sessionary._sync.manager import SessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError, StoreConflictError, StoreUnavailableError
from sessionary.observability import Observer
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.headers import merge_headers
from sessionary.sansio.session import Session
from sessionary.stores.base import Store

__all__ = ["ENVIRON_KEY", "SessionMiddleware", "get_session"]

ENVIRON_KEY = "sessionary.session"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_ERRORS = {
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
        except StoreUnavailableError:
            return self.fail(503)
        except StoreConflictError:
            return self.fail(409)
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
        store: Store | None = None,
        config: SessionConfig | None = None,
        manager: SessionManager | None = None,
        observer: Observer | None = None,
        environ_key: str = ENVIRON_KEY,
    ) -> None:
        if manager is None:
            if store is None or config is None:
                msg = "SessionMiddleware needs store= and config= (or a manager=)"
                raise ConfigurationError(msg)
            manager = SessionManager(store, config, observer=observer)
        self.app = app
        self.manager = manager
        self.environ_key = environ_key
        header = manager.request_header
        self._token_key = _environ_name(header) if header is not None else None

    def open(self, environ: dict[str, Any]) -> SessionCycle:
        """Read the ID from ``environ`` and load the session."""
        cookie = environ.get("HTTP_COOKIE")
        tokens: tuple[str, ...] = ()
        if self._token_key is not None and self._token_key in environ:
            tokens = (environ[self._token_key],)
        return self.manager.open(
            [cookie] if cookie else [],
            client=environ.get("REMOTE_ADDR"),
            token_headers=tokens,
            user_agent=environ.get("HTTP_USER_AGENT"),
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Handle one WSGI request."""
        cycle = self.open(environ)
        environ[self.environ_key] = cycle.session
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
