"""ASGI connections whose session cycle begins only when the application needs it.

Two cases, one shape (:class:`Deferred`, the ``send`` the application gets):

* an HTTP request that presents no session ID and that the gate opens whatever its headers
  say (:meth:`~sessionary.sansio.gate.Gate.opens_blind`): the application gets a new, empty
  :class:`~sessionary.sansio.session.Session` and nothing else is built. The cycle begins
  (without I/O: there is nothing to load) only if the handler looks at the session or asks
  for a CSRF token; otherwise the response passes through untouched, as the full path would
  leave it (:data:`~sessionary.sansio.response.NOTHING`);
* ``SessionMiddleware(..., lazy=True)``: a request that presents an ID gets a placeholder
  until ``await load_session(request)`` loads it (one round trip); a route that never asks
  makes no store call, and answers at once while the store hangs.

Once the cycle exists, :class:`~sessionary.integrations._asgi.Exchange` settles it exactly
as for an eagerly loaded session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sessionary._async.manager import AsyncSessionManager
from sessionary.exceptions import SessionStateError
from sessionary.integrations._asgi import (
    MANAGER_SCOPE_KEY,
    TENANT_SCOPE_KEY,
    Exchange,
    Message,
    Receive,
    Scope,
    Send,
    scope_info,
)
from sessionary.integrations._csrf import CONTEXT_KEY, CsrfContext
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Gate, Open, RequestInfo
from sessionary.sansio.session import Session

__all__ = [
    "DEFERRED_KEY",
    "NOT_LOADED",
    "Deferred",
    "blind_methods",
    "id_headers",
    "not_loaded",
    "presents_id",
]

ASGIApp = Callable[[Scope, Receive, Send], Any]
DEFERRED_KEY = "sessionary.deferred"
"""Where the connection's :class:`Deferred` is kept in the scope (for ``load_session``)."""
_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE")
NOT_LOADED = "the session is loaded lazily (lazy=True): await load_session(request) first"


class Deferred:
    """One HTTP connection whose cycle is begun on demand; its :meth:`send` wraps ``send``."""

    __slots__ = (
        "_cycle",
        "_exchange",
        "_info",
        "_passed",
        "_session",
        "gate",
        "manager",
        "opened",
        "raw_send",
        "scope",
    )

    def __init__(
        self,
        manager: AsyncSessionManager,
        gate: Gate,
        scope: Scope,
        send: Send,
        *,
        opened: Open | None = None,
        info: RequestInfo | None = None,
    ) -> None:
        self.manager = manager
        self.gate = gate
        self.scope = scope
        self.raw_send = send
        self.opened = opened
        """The gate's decision for a lazily loaded session (``None``: no ID presented)."""
        self._info = info
        self._cycle: SessionCycle | None = None
        self._exchange: Exchange | None = None
        self._passed = False
        """The response started with no cycle: it passes through untouched."""
        self._session: Session | None = None
        """The new session handed out to a request without an ID (``anonymous``)."""

    @classmethod
    def anonymous(
        cls, manager: AsyncSessionManager, gate: Gate, scope: Scope, send: Send
    ) -> Deferred:
        """A request without an ID: a fresh session in the scope, no cycle yet."""
        core = manager.core
        deferred = cls(manager, gate, scope, send)
        scope["session"] = deferred._session = Session(core.codec, now=core.now_ms())
        return deferred

    async def serve(self, app: ASGIApp, receive: Receive) -> None:
        """Run ``app`` on this connection; the cycle begins when it is needed, if ever."""
        scope, opened = self.scope, self.opened
        if opened is not None:  # lazy: a placeholder until load_session()
            scope["session"] = not_loaded(self.manager)
        scope[MANAGER_SCOPE_KEY] = self.manager
        scope[TENANT_SCOPE_KEY] = "" if opened is None else opened.tenant
        scope[CONTEXT_KEY] = self.csrf_context  # called on first use (find_context)
        scope[DEFERRED_KEY] = self
        try:
            await app(scope, receive, self.send)
        except Exception as exc:
            if not await self.answered(exc):
                raise
        finally:
            await self.finished()
            # The scope and this object name each other: unlink them, so that a finished
            # request is freed at once rather than by the cycle collector.
            scope.pop(DEFERRED_KEY, None)
            scope.pop(CONTEXT_KEY, None)

    def csrf_context(self) -> CsrfContext | None:
        """The request's CSRF helper (kept in the scope as this method, built on first use)."""
        guard = self.gate.csrf
        return None if guard is None else CsrfContext(guard, self.begin)

    @property
    def cycle(self) -> SessionCycle | None:
        """The cycle, once begun."""
        return self._cycle

    def begin(self) -> SessionCycle:
        """The cycle of a request without an ID, begun now (no I/O), adopting its session."""
        cycle = self._cycle
        if cycle is None:
            session = self._session
            if session is None:
                raise SessionStateError(NOT_LOADED)
            info = scope_info(self.scope, self.gate.token_header)
            opened = self.gate.decide(info, self.scope)
            assert isinstance(opened, Open)  # opens_blind: no refusal, no form to read
            cycle = self.manager.core.begin(
                (),
                client=info.client,
                user_agent=info.user_agent,
                store_down=opened.store_down,
            )
            cycle.adopt(session)
            self._cycle = cycle
        return cycle

    async def load(self) -> Session:
        """The request's session: loaded now for a lazy mount (at most one round trip)."""
        cycle = self._cycle
        if cycle is None:
            opened, info = self.opened, self._info
            if opened is None or info is None:
                return self.begin().session
            cycle = await self.manager.open_admitted(info, opened)
            self._cycle = cycle
            self.scope["session"] = cycle.session
        return cycle.session

    def _needs_cycle(self) -> bool:
        if self._cycle is not None:
            return True
        session = self._session
        return session is not None and session.accessed

    async def send(self, message: Message) -> None:
        """The ``send`` the application gets: settles a begun cycle as the response starts."""
        exchange = self._exchange
        if exchange is not None:
            await exchange.send(message)
            return
        if message["type"] == "http.response.start" and not self._passed:
            if self._needs_cycle():
                exchange = self._exchange = self._exchange_now()
                await exchange.send(message)
                return
            self._passed = True
            if self._session is not None:
                self._session.close()  # late changes raise, as after a commit
        await self.raw_send(message)

    async def answered(self, error: Exception) -> bool:
        """The app raised: settle a begun cycle like the eager path (``False``: re-raise)."""
        exchange = self._exchange
        if exchange is None:
            if self._passed or not self._needs_cycle():
                return False
            exchange = self._exchange = self._exchange_now()
        if exchange.settled:
            return False
        return await exchange.answered(error)

    def _exchange_now(self) -> Exchange:
        return Exchange(self.manager, self.gate, self.begin(), self.raw_send, websocket=False)

    async def finished(self) -> None:
        """After the response: a late logout of a begun cycle ends its session now."""
        if self._cycle is not None:
            await self.manager.after_response(self._cycle)


def id_headers(gate: Gate) -> tuple[bytes, ...]:
    """The raw header names that may present a session ID: ``Cookie`` and the token header."""
    token = gate.token_header
    return (b"cookie",) if token is None else (b"cookie", token.encode("latin-1"))


def presents_id(headers: Iterable[tuple[bytes, bytes]], names: tuple[bytes, ...]) -> bool:
    """Whether any raw header is one of ``names`` (one pass, nothing decoded)."""
    for name, _ in headers:  # noqa: SIM110 - any() over a generator costs more per request
        if name in names:
            return True
    return False


def not_loaded(manager: AsyncSessionManager) -> Session:
    """The placeholder of a lazy mount's session: any use raises :data:`NOT_LOADED`."""
    return Session(manager.core.codec, error=SessionStateError(NOT_LOADED))


def blind_methods(gate: Gate) -> frozenset[str]:
    """The methods :meth:`Gate.opens_blind` admits, among those requests commonly use."""
    return frozenset(m for m in _METHODS if gate.opens_blind(m))
