"""Generic WSGI middleware, for any WSGI application (Falcon, Bottle, Pyramid, plain WSGI).

::

    application = SessionMiddleware(
        application,
        store=RedisStore.from_url("redis://localhost:6379/0"),
        config=SessionConfig(secret_keys=[os.environ["SESSION_SECRET"]]),
    )

    def view(environ, start_response):
        session = get_session(environ)   # environ["sessionary.session"]

``lazy=True``: a request that presents a session ID loads it when the application first
calls :func:`get_session` (one round trip), and a request whose application never asks makes
no store call (``environ["sessionary.session"]`` holds a loader until then; ask before
``start_response``). Requests that must check a CSRF token or take the session's lock load
at once, as without it.

The session is committed inside ``start_response``, before the status and headers can leave
the server; a change made while the body is iterated raises
:class:`~sessionary.exceptions.SessionClosedError` (R85), and a ``logout()`` then ends the
stored session when the server closes the body.

The options are named as in every adapter (``docs/adapters.md``): ``csrf=`` (default: the
Origin / ``Sec-Fetch-Site`` check; ``True`` adds the token, from ``X-CSRF-Token`` or the
``csrf_token`` field of a URL-encoded form, read up to ``max_form_bytes`` and put back in
``wsgi.input``; :func:`csrf_token` gives it), ``tenants=``, ``lock=`` and ``store_down=`` (a
value or a function of the environ), ``commit_on_error=``. Refusals answer 400 (no tenant),
403 (origin, token, session limit), 409 (conflict, busy lock) or 503 (store down, only where
the session is used — also when a wrapped framework answered that error 500 itself).

A failed request (the application raised, or answers a 5xx) commits only a logout or an
explicit rotation. When the client's ID changed, an application error is answered 500 here
with the cookie, then raised from the body for the server to log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sessionary._sync.manager import SessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError
from sessionary.integrations._csrf import CONTEXT_KEY, CsrfContext, context_for, find_context
from sessionary.integrations._info import environ_info
from sessionary.integrations._manager import gate_for, manager_for
from sessionary.integrations._wsgi import (
    Body,
    Exchange,
    LazyLoad,
    StartResponse,
    error_headers,
    read_form,
    status_line,
    with_strict_transport,
)
from sessionary.observability import Observer
from sessionary.sansio.gate import GateOptions, NeedForm, Open, Refuse, RequestInfo
from sessionary.sansio.session import Session
from sessionary.stores.base import SessionStore
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ENVIRON_KEY",
    "SessionMiddleware",
    "StartResponse",
    "csrf_context",
    "csrf_token",
    "get_session",
]

ENVIRON_KEY = "sessionary.session"

WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def get_session(environ: dict[str, Any], key: str = ENVIRON_KEY) -> Session:
    """The :class:`~sessionary.Session` of a WSGI request (loaded now on a lazy mount)."""
    session = environ.get(key)
    if isinstance(session, LazyLoad):
        return session.load()
    if not isinstance(session, Session):
        msg = "no sessionary session in this environ: is the WSGI SessionMiddleware installed?"
        raise ConfigurationError(msg)
    return session


def csrf_context(environ: dict[str, Any]) -> CsrfContext:
    """The request's CSRF helper (``SessionMiddleware(..., csrf=True)`` must be installed)."""
    return find_context(environ, CONTEXT_KEY, "pass csrf=True to SessionMiddleware")


def csrf_token(environ: dict[str, Any]) -> str:
    """A masked CSRF token for this response (send it back in ``X-CSRF-Token``/``csrf_token``)."""
    return csrf_context(environ).token()


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
        lazy: bool = False,
        **options: Unpack[GateOptions],
    ) -> None:
        manager = manager_for(
            SessionManager, manager, store, config, observer=observer, owner="SessionMiddleware"
        )
        self.app = app
        self.manager = manager
        self.environ_key = environ_key
        self.gate = gate_for(manager, options)
        self.lazy = lazy

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Handle one WSGI request."""
        manager, gate = self.manager, self.gate
        info = environ_info(environ, gate.token_header)
        if gate.strict_transport is not None:
            hsts = gate.strict_transport_for(info.scheme)
            if hsts is not None:
                start_response = with_strict_transport(start_response, hsts)
        if self.lazy:
            opened = gate.decide(info, environ)
            if isinstance(opened, Open) and not opened.check_token and not opened.lock:
                return self._lazily(environ, start_response, info, opened)
        entry = manager.admit(gate, info, environ)
        if isinstance(entry, NeedForm):
            entry = manager.admit(gate, read_form(environ, info, entry), environ)
        assert not isinstance(entry, NeedForm)  # the form was read
        if isinstance(entry, Refuse):
            start_response(status_line(entry.status), error_headers(entry.body))
            return [entry.body]
        environ[self.environ_key] = entry.session
        environ[CONTEXT_KEY] = context_for(gate, entry)
        return self._serve(environ, Exchange(manager, gate, entry, start_response))

    def _lazily(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        info: RequestInfo,
        opened: Open,
    ) -> Iterable[bytes]:
        """A lazy mount: the session is loaded when the application first asks for it."""
        gate = self.gate
        exchange = Exchange(self.manager, gate, None, start_response)
        lazy = LazyLoad(exchange, info, opened, environ, self.environ_key)
        environ[self.environ_key] = lazy
        environ[CONTEXT_KEY] = None if gate.csrf is None else CsrfContext(gate.csrf, lazy.cycle)
        return self._serve(environ, exchange)

    def _serve(self, environ: dict[str, Any], exchange: Exchange) -> Iterable[bytes]:
        try:
            body = self.app(environ, exchange.start_response)
        except Exception as exc:
            if exchange.settled or not exchange.answered(exc):
                raise
            return Body((), exchange, exc if exchange.reraise else None)
        return Body(body, exchange)
