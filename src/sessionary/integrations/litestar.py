"""Litestar: sessionary as a Litestar plugin (needs ``pip install 'sessionary[litestar]'``).

::

    config = SessionaryConfig(store=AsyncRedisStore.from_url(url), config=session_config)
    app = Litestar(route_handlers=[...], plugins=[SessionaryPlugin(config)])

    @post("/cart")
    async def add(item: int, session: Session) -> None:
        session.setdefault("cart", []).append(item)

The plugin installs the middleware (``config.middleware``, a ``DefineMiddleware`` in the style
of Litestar's own ``ServerSideSessionConfig``; it can be placed on any layer by hand), provides
the typed :class:`~sessionary.Session` to any handler parameter named ``session`` (and a
masked ``csrf_token`` with ``csrf=True``), answers a store outage 503 and closes the store on
shutdown. ``request.session`` is the same :class:`~sessionary.Session` (a ``dict``);
``request.set_session(value)`` replaces its contents and ``request.clear_session()`` logs out.

It is the ASGI ``SessionMiddleware`` around each route: the options are the ASGI adapter's
(``lock``/``store_down`` functions receive the ASGI scope). docs/litestar.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

try:
    from litestar import Response
    from litestar.config.app import AppConfig
    from litestar.di import NamedDependency, Provide
    from litestar.middleware import DefineMiddleware
    from litestar.plugins import InitPlugin
    from litestar.serialization import decode_json, encode_json
    from litestar.types import Empty
    from litestar.types import Scope as LitestarScope
    from litestar.utils.scope import get_serializer_from_scope
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.litestar needs Litestar: pip install 'sessionary[litestar]'"
    raise ImportError(msg) from exc

from sessionary._async.manager import AsyncSessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import StoreUnavailableError
from sessionary.integrations._asgi import Message, Receive, Scope, Send
from sessionary.integrations._asgi_deferred import DEFERRED_KEY, Deferred
from sessionary.integrations._manager import manager_for
from sessionary.integrations.asgi import (
    SessionMiddleware,
    csrf_token,
    get_manager,
    get_session,
    load_session,
)
from sessionary.observability import Observer
from sessionary.sansio.session import Session as _Session
from sessionary.sansio.settle import REASONS
from sessionary.stores.base import AsyncSessionStore
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from litestar.connection import Request
    from typing_extensions import Unpack

    from sessionary.sansio.gate import WebSocketGateOptions

__all__ = [
    "CsrfToken",
    "Session",
    "SessionaryConfig",
    "SessionaryMiddleware",
    "SessionaryPlugin",
    "csrf_token",
    "get_manager",
    "get_session",
    "load_session",
]

ASGIApp = Callable[[Scope, Receive, Send], Any]
_STARTS = ("http.response.start", "websocket.accept")

Session = NamedDependency[_Session]
"""A handler parameter ``session: Session`` receives the connection's session."""
CsrfToken = NamedDependency[str]
"""A handler parameter ``csrf_token: CsrfToken`` receives a fresh masked CSRF token."""


async def _replaced(scope: Scope, original: object) -> None:
    """Apply ``request.set_session(value)`` / ``request.clear_session()`` to the session."""
    value = scope.get("session")
    if isinstance(value, _Session):
        return
    deferred = scope.get(DEFERRED_KEY)
    session = await deferred.load() if isinstance(deferred, Deferred) else original
    assert isinstance(session, _Session)  # set by the middleware before the route ran
    scope["session"] = session
    if value is Empty or value is None:
        session.logout()
        return
    if not isinstance(value, dict):  # a dataclass or model: as Litestar's backends store it
        value = decode_json(encode_json(value, get_serializer_from_scope(scope)))  # type: ignore[arg-type]
    session.clear()
    session.update(value)


def _translating(app: ASGIApp) -> ASGIApp:
    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        original = scope.get("session")

        async def send_reconciled(message: Message) -> None:
            if message["type"] in _STARTS:
                await _replaced(scope, original)
            await send(message)

        await app(scope, receive, send_reconciled)

    return route


class SessionaryMiddleware(SessionMiddleware):
    """The ASGI middleware around one Litestar route, honouring Litestar's session calls."""

    def __init__(self, app: ASGIApp, **kwargs: Any) -> None:
        super().__init__(_translating(app), **kwargs)


class SessionaryConfig:
    """The session configuration of a Litestar application (one manager for every route).

    ``store`` and ``config`` (or a ``manager``), ``observer``, ``lazy`` and the request
    options of :class:`~sessionary.sansio.gate.WebSocketGateOptions`.
    """

    def __init__(
        self,
        *,
        store: AsyncSessionStore | CookieStore | None = None,
        config: SessionConfig | None = None,
        manager: AsyncSessionManager | None = None,
        observer: Observer | None = None,
        lazy: bool = False,
        **options: Unpack[WebSocketGateOptions],
    ) -> None:
        self.manager = manager_for(
            AsyncSessionManager, manager, store, config, observer=observer, owner="SessionaryConfig"
        )
        self.lazy = lazy
        self.options = options

    @property
    def middleware(self) -> DefineMiddleware:
        """The middleware, for ``middleware=[...]`` on any layer of the application."""
        return DefineMiddleware(
            cast(Any, SessionaryMiddleware), manager=self.manager, lazy=self.lazy, **self.options
        )

    async def close(self) -> None:
        """Close the store (the plugin calls it on shutdown)."""
        await self.manager.aclose()


async def provide_session(scope: LitestarScope) -> _Session:
    """The ``session`` dependency: the connection's session (loaded now when ``lazy``)."""
    return await load_session(scope)


def provide_csrf_token(scope: LitestarScope) -> str:
    """The ``csrf_token`` dependency: a masked CSRF token for this response."""
    return csrf_token(scope)


def store_unavailable(
    request: Request[Any, Any, Any], error: StoreUnavailableError
) -> Response[bytes]:
    """The answer to a store outage met by a handler: 503, generic, not cached."""
    return Response(
        REASONS[503],
        status_code=503,
        media_type="text/plain",
        headers={"Cache-Control": "no-store"},
    )


class SessionaryPlugin(InitPlugin):
    """Installs sessionary on a Litestar application: ``plugins=[SessionaryPlugin(config)]``."""

    __slots__ = ("config",)

    def __init__(self, config: SessionaryConfig) -> None:
        self.config = config

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the middleware (outermost), the dependencies, the 503 handler and the close."""
        app_config.middleware.insert(0, self.config.middleware)
        dependencies = app_config.dependencies
        dependencies.setdefault("session", Provide(provide_session))
        dependencies.setdefault("csrf_token", Provide(provide_csrf_token, sync_to_thread=False))
        app_config.exception_handlers.setdefault(StoreUnavailableError, store_unavailable)
        app_config.on_shutdown.append(self.config.close)
        return app_config
