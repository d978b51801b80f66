"""Quart: ``quart.session`` backed by sessionary (needs ``pip install 'sessionary[quart]'``).

::

    app.config["SECRET_KEY"] = os.environ["SESSION_SECRET"]
    Sessionary(app, store=AsyncRedisStore.from_url("redis://localhost:6379/0"))

The Flask adapter's twin for Quart's async API: ``quart.session`` is the request's
:class:`~sessionary.Session` (:class:`QuartSession`, with Flask's session attributes), the
configuration is read from the same ``SESSION_COOKIE_*`` settings unless a
:class:`~sessionary.SessionConfig` is passed, and the options are read from ``app.config`` as
``SESSIONARY_<NAME>`` when not given. A refused request is answered before any view (a
WebSocket handshake: 403 where the server can answer it, else closed 1008); a store outage
answers 503 where the session is used. A WebSocket's session is committed when its handler
ends (no cookie can be sent then). A ``logout()`` in a streamed body ends the stored session
once the body has been sent.
"""

from __future__ import annotations

from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Any, cast

try:
    from quart import Quart, Response, request
    from quart.sessions import SessionInterface, SessionMixin
    from quart.wrappers import BaseRequestWebsocket, Websocket
    from werkzeug.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.quart needs Quart: pip install 'sessionary[quart]'"
    raise ImportError(msg) from exc

from sessionary._async.manager import AsyncSessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import SessionaryError, StoreUnavailableError
from sessionary.integrations._csrf import CONTEXT_KEY, context_for, find_context
from sessionary.integrations._flask_config import config_from_flask, options_from_flask
from sessionary.integrations._flask_session import STATE_KEY, RequestState
from sessionary.integrations._flask_session import flask_session as reclassed
from sessionary.integrations._info import request_info
from sessionary.integrations._manager import gate_for
from sessionary.integrations._quart import (
    PLAIN,
    Finishing,
    QuartSession,
    refused,
    scope_of,
    state_of,
    strict_transport,
    unavailable,
)
from sessionary.integrations._response import apply_update
from sessionary.integrations._store_url import MEMORY, PREFIX, async_store_from_url
from sessionary.observability import Observer
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Gate, NeedForm, Refuse, WebSocketGateOptions
from sessionary.stores.base import AsyncSessionStore
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from sessionary._async.migration import AsyncLegacyMigration

__all__ = ["QuartSession", "Sessionary", "SessionaryInterface", "csrf_token"]


class SessionaryInterface(SessionInterface):
    """Quart's session interface: translates the request for the gate, drives the manager."""

    def __init__(self, manager: AsyncSessionManager, gate: Gate) -> None:
        self.manager, self.gate = manager, gate

    async def open_session(self, app: Quart, request: BaseRequestWebsocket) -> SessionMixin:
        """Admit the request and load its session (at most one store round trip)."""
        manager, gate = self.manager, self.gate
        handshake = isinstance(request, Websocket)
        info = request_info(
            request, gate.token_header, request.headers.getlist, client=request.remote_addr,
            websocket=handshake,
        )  # fmt: skip
        entry: SessionCycle | Refuse | NeedForm | HTTPException = await manager.admit(
            gate, info, request
        )
        if isinstance(entry, NeedForm):  # Quart parses the form (its own limits apply)
            try:
                value = (await request.form).get(entry.field)  # type: ignore[attr-defined]
            except HTTPException as error:  # too large: answered by Quart, from the hook
                entry = error
            else:
                entry = await manager.admit(gate, info.with_form(value), request)
        assert not isinstance(entry, NeedForm)  # the form was read
        refusal = None if isinstance(entry, SessionCycle) else entry
        cycle = entry if isinstance(entry, SessionCycle) else manager.core.begin([])
        scope = scope_of(request)
        scope[STATE_KEY] = RequestState(cycle, refusal)
        scope[CONTEXT_KEY] = context_for(gate, cycle)
        return cast(SessionMixin, reclassed(cycle, QuartSession))

    def is_null_session(self, obj: object) -> bool:
        """Sessionary has no null sessions."""
        return False

    async def save_session(self, app: Quart, session: SessionMixin, response: Any) -> None:
        """Commit before the response leaves (once per request), then add the headers."""
        state = state_of()
        if state is None or state.settled:
            return
        state.settled = True
        cycle = state.cycle
        assert cycle is not None  # a Quart mount loads eagerly
        finish = partial(self.manager.after_response, cycle)
        status = 200 if response is None else response.status_code  # None: a WebSocket ended
        answer = await self.manager.settle(cycle, self.gate, status=status)
        if response is None:
            await finish()
            return
        if answer.status is not None:
            response.status_code = answer.status
            response.set_data(answer.body)
            response.headers.remove("Set-Cookie")
            response.headers.update(PLAIN)
        if answer.update is not None:
            apply_update(answer.update, response.headers)
        if isinstance(response, Response):
            response.response = Finishing(response.response, finish)
        else:  # a werkzeug response: its body is already in memory
            await finish()

    async def request_ended(self, error: BaseException | None) -> None:
        """Teardown: a request whose exception Quart let through was never saved."""
        state = state_of()
        if state is None or state.settled:
            return
        state.settled = True
        cycle = state.cycle
        assert cycle is not None  # a Quart mount loads eagerly
        with suppress(SessionaryError):  # the application's own error is the one to report
            await self.manager.settle(cycle, self.gate, error=error)
        await self.manager.after_response(cycle)


def csrf_token() -> str:
    """A masked CSRF token for this response (``Sessionary(app, csrf=True)``)."""
    return find_context(scope_of(request), CONTEXT_KEY, "pass csrf=True to Sessionary()").token()


class Sessionary:
    """The Quart extension: ``Sessionary(app, store=...)`` or ``ext.init_app(app)``.

    An option left ``None`` is read from ``app.config`` (``SESSIONARY_<NAME>``); with no
    ``store``, ``SESSIONARY_STORE_URL`` names one (``memory``, ``redis://...``,
    ``postgresql://...``, ``sqlite:///path.db``; ``SESSIONARY_PREFIX``: the Redis key prefix)
    and the extension closes it. ``legacy``:
    a read-through migration from another session library (docs/migration.md).
    """

    def __init__(
        self,
        app: Quart | None = None,
        *,
        store: AsyncSessionStore | CookieStore | None = None,
        config: SessionConfig | None = None,
        observer: Observer | None = None,
        legacy: AsyncLegacyMigration | None = None,
        **options: Unpack[WebSocketGateOptions],
    ) -> None:
        self.store, self.config, self.observer, self.legacy = store, config, observer, legacy
        self.options = options
        self.manager: AsyncSessionManager | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Quart) -> None:
        """Install sessionary as ``app.session_interface`` and register its hooks."""
        if self.store is None:  # SESSIONARY_STORE_URL, else this process's memory
            url = app.config.get("SESSIONARY_STORE_URL") or MEMORY
            prefix = app.config.get("SESSIONARY_PREFIX", PREFIX)
            self.store = async_store_from_url(url, prefix=prefix)
        config = self.config or config_from_flask(app)
        manager = AsyncSessionManager(
            self.store, config, observer=self.observer, legacy=self.legacy
        )
        self.manager = manager
        options = options_from_flask(app, self.options, WebSocketGateOptions.__optional_keys__)
        interface = SessionaryInterface(manager, gate_for(manager, options, multipart=True))
        app.session_interface = interface  # type: ignore[assignment]
        app.teardown_request(interface.request_ended)
        app.teardown_websocket(interface.request_ended)
        app.register_error_handler(StoreUnavailableError, unavailable)
        app.before_request(refused)
        app.before_websocket(refused)
        app.after_serving(self.close)
        app.extensions["sessionary"] = self
        if interface.gate.strict_transport is not None:
            app.after_request(strict_transport(interface.gate))
        if interface.gate.csrf is not None:
            app.jinja_env.globals["csrf_token"] = csrf_token

    async def close(self) -> None:
        """Close the store (registered with ``app.after_serving``)."""
        if self.manager is not None:
            await self.manager.aclose()
