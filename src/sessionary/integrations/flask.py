"""Flask: ``flask.session`` backed by sessionary (needs ``pip install 'sessionary[flask]'``).

::

    app.config["SECRET_KEY"] = os.environ["SESSION_SECRET"]
    Sessionary(app, store=RedisStore.from_url("redis://localhost:6379/0"))

``flask.session`` is the request's :class:`~sessionary.Session` (:class:`FlaskSession`, a
``dict`` like Flask's own, with ``login``, ``logout``, ``rotate``, ``user_id``); the
configuration comes from Flask's ``SESSION_COOKIE_*`` and ``PERMANENT_SESSION_LIFETIME``
unless a :class:`~sessionary.SessionConfig` is passed. Options (``docs/adapters.md``) not
given to :class:`Sessionary` are read from ``app.config`` as ``SESSIONARY_<NAME>``; templates
get ``csrf_token()``. A refused request is answered (400, 403, 409) before any view; a store
outage answers 503 where the session is used; a failed request (a 5xx) commits only a logout
or a rotation; a ``logout()`` in a streamed body ends the session when the response closes.
``lazy=True`` (Flask 3.1 or later) loads the session on the view's first use of it.
"""

from __future__ import annotations

from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, cast

try:
    from flask import Flask, Request, Response
    from flask import request as current_request
    from flask.sessions import SessionInterface, SessionMixin
    from werkzeug.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.flask needs Flask: pip install 'sessionary[flask]'"
    raise ImportError(msg) from exc

from sessionary._sync.manager import SessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError, SessionaryError, StoreUnavailableError
from sessionary.integrations._csrf import CONTEXT_KEY, context_for, find_context
from sessionary.integrations._flask_config import config_from_flask, options_from_flask
from sessionary.integrations._flask_hooks import (
    PLAIN,
    info_of,
    open_lazily,
    refused,
    strict_transport,
    unavailable,
)
from sessionary.integrations._flask_session import (
    STATE_KEY,
    FlaskSession,
    RequestState,
    flask_session,
    lazy_supported,
)
from sessionary.integrations._manager import gate_for
from sessionary.integrations._response import apply_update
from sessionary.integrations._store_url import MEMORY, PREFIX, store_from_url
from sessionary.observability import Observer
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Gate, GateOptions, NeedForm, Open, Refuse
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from sessionary._sync.migration import LegacyMigration
    from sessionary.stores.base import SessionStore

__all__ = ["FlaskSession", "Sessionary", "SessionaryInterface", "config_from_flask", "csrf_token"]


class SessionaryInterface(SessionInterface):
    """Flask's session interface: translates the request for the gate, drives the manager."""

    def __init__(self, manager: SessionManager, gate: Gate, *, lazy: bool = False) -> None:
        self.manager = manager
        self.gate = gate
        self.lazy = lazy

    def open_session(self, app: Flask, request: Request) -> SessionMixin:
        """Admit the request and load its session (at most one store round trip).

        A refused request gets an empty session nobody commits; its answer comes from the
        ``before_request`` hook.
        """
        manager, gate = self.manager, self.gate
        info = info_of(request, gate.token_header)
        if self.lazy:
            opened = gate.decide(info, request)
            if isinstance(opened, Open) and not opened.check_token and not opened.lock:
                return open_lazily(manager, gate, request, info, opened)
        entry: SessionCycle | Refuse | NeedForm | HTTPException = manager.admit(gate, info, request)
        if isinstance(entry, NeedForm):  # Flask parses the form (its own limits apply)
            try:
                value = request.form.get(entry.field)
            except HTTPException as error:  # too large: answered by Flask, from the hook
                entry = error
            else:
                entry = manager.admit(gate, info.with_form(value), request)
        assert not isinstance(entry, NeedForm)  # the form was read
        refusal = None if isinstance(entry, SessionCycle) else entry
        cycle = entry if isinstance(entry, SessionCycle) else manager.core.begin([])
        request.environ[STATE_KEY] = RequestState(cycle, refusal)
        request.environ[CONTEXT_KEY] = context_for(gate, cycle)
        return cast(SessionMixin, flask_session(cycle))

    def is_null_session(self, obj: object) -> bool:
        """Sessionary has no null sessions."""
        return False

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Commit before the response leaves (once per request), then add the headers."""
        state = current_request.environ.get(STATE_KEY)
        if not isinstance(state, RequestState) or state.settled:
            return
        state.settled = True
        cycle = state.cycle
        if cycle is None:  # a lazy mount whose view never used the session
            return
        response.call_on_close(partial(self.manager.after_response, cycle))
        answer = self.manager.settle(cycle, self.gate, status=response.status_code)
        if answer.status is not None:
            response.status_code = answer.status
            response.set_data(answer.body)
            response.headers.remove("Set-Cookie")
            response.headers.update(PLAIN)
        if answer.update is not None:
            apply_update(answer.update, response.headers)

    def request_ended(self, error: BaseException | None) -> None:
        """``teardown_request``: a request whose exception Flask let through was never saved.

        It failed: a logout or rotation is still committed (no response carries the cookie).
        """
        state = current_request.environ.get(STATE_KEY)
        if not isinstance(state, RequestState) or state.settled:
            return
        state.settled = True
        if state.cycle is None:
            return
        with suppress(SessionaryError):  # the application's own error is the one to report
            self.manager.settle(state.cycle, self.gate, error=error)


def csrf_token() -> str:
    """A masked CSRF token for this response (``Sessionary(app, csrf=True)``)."""
    environ = current_request.environ
    return find_context(environ, CONTEXT_KEY, "pass csrf=True to Sessionary()").token()


class Sessionary:
    """The Flask extension: ``Sessionary(app, store=...)`` or ``ext.init_app(app)``.

    An option left ``None`` is read from ``app.config`` (``SESSIONARY_<NAME>``); with no
    ``store``, ``SESSIONARY_STORE_URL`` names one (``memory``, ``redis://...``,
    ``postgresql://...``, ``sqlite:///path.db``; ``SESSIONARY_PREFIX``: the Redis key prefix)
    and the extension closes it. ``legacy``:
    a read-through migration from another session library (docs/migration.md).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        store: SessionStore | CookieStore | None = None,
        config: SessionConfig | None = None,
        observer: Observer | None = None,
        legacy: LegacyMigration | None = None,
        lazy: bool | None = None,
        **options: Unpack[GateOptions],
    ) -> None:
        self.store, self.config, self.observer, self.legacy = store, config, observer, legacy
        self.lazy = lazy
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install sessionary as ``app.session_interface`` and register its hooks."""
        if self.store is None:  # SESSIONARY_STORE_URL, else this process's memory
            url = app.config.get("SESSIONARY_STORE_URL") or MEMORY
            self.store = store_from_url(url, prefix=app.config.get("SESSIONARY_PREFIX", PREFIX))
        config = self.config or config_from_flask(app)
        manager = SessionManager(self.store, config, observer=self.observer, legacy=self.legacy)
        gate = gate_for(manager, options_from_flask(app, self.options), multipart=True)
        lazy = self.lazy if self.lazy is not None else bool(app.config.get("SESSIONARY_LAZY"))
        if lazy and not lazy_supported():
            msg = "lazy=True needs Flask 3.1 or later (it loads on the first flask.session use)"
            raise ConfigurationError(msg)
        interface = SessionaryInterface(manager, gate, lazy=lazy)
        app.session_interface = interface
        app.teardown_request(interface.request_ended)
        app.register_error_handler(StoreUnavailableError, unavailable)
        app.extensions["sessionary"] = self
        app.before_request(refused)
        if gate.strict_transport is not None:
            app.after_request(strict_transport(gate))
        if gate.csrf is not None:
            app.jinja_env.globals["csrf_token"] = csrf_token

    def close(self) -> None:
        """Close the store (call at process shutdown)."""
        if self.store is not None:
            self.store.close()
