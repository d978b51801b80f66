"""The aiohttp adapter's translations: request → :class:`RequestInfo`, answers → responses.

Kept apart from :mod:`sessionary.integrations.aiohttp` (the middleware and the helpers for
handlers): the per-request state, and the commit as a response is returned or prepared.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sessionary._async.manager import AsyncSessionManager
from sessionary.exceptions import ConfigurationError, StoreUnavailableError
from sessionary.integrations._csrf import CONTEXT_KEY, CsrfContext, context_for
from sessionary.integrations._info import request_info
from sessionary.integrations._response import apply_update
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.gate import Gate, Open, RequestInfo

__all__ = [
    "CSRF",
    "STATE",
    "STRICT_TRANSPORT",
    "Handler",
    "State",
    "error_response",
    "info",
    "on_prepare",
    "serve",
    "settle",
    "state_of",
]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STRICT_TRANSPORT = "Strict-Transport-Security"

logger = logging.getLogger("sessionary")


class State:
    """Per-request state: the cycle, the mount's manager and gate, whether it was settled.

    With ``setup(..., lazy=True)`` the cycle is ``None`` until the handler first awaits
    ``get_session``: ``opened`` and ``info`` are what opens it then (:meth:`load`).
    """

    __slots__ = ("cycle", "gate", "hsts", "info", "manager", "opened", "settled")

    def __init__(
        self,
        cycle: SessionCycle | None,
        manager: AsyncSessionManager,
        gate: Gate,
        *,
        opened: Open | None = None,
        info: RequestInfo | None = None,
        hsts: str | None = None,
    ) -> None:
        self.cycle = cycle
        self.manager = manager
        self.gate = gate
        self.settled = False
        self.opened = opened
        self.info = info
        self.hsts = hsts
        """The ``Strict-Transport-Security`` value for this HTTPS request's response."""

    async def load(self, request: web.Request) -> SessionCycle:
        """The request's cycle, opened now if it was deferred (at most one round trip)."""
        cycle = self.cycle
        if cycle is None:
            opened, info = self.opened, self.info
            assert opened is not None  # deferred with both
            assert info is not None
            cycle = self.cycle = await self.manager.open_admitted(info, opened)
            context = context_for(self.gate, cycle)
            if context is not None:
                request[CSRF] = context
        return cycle


# aiohttp >= 3.13 wants typed request keys; older versions take a string.
STATE: Any = web.RequestKey("sessionary", State) if hasattr(web, "RequestKey") else "sessionary"
CSRF: Any = web.RequestKey(CONTEXT_KEY, CsrfContext) if hasattr(web, "RequestKey") else CONTEXT_KEY


def state_of(request: web.Request) -> State:
    """The request's state (the middleware must be installed)."""
    state = request.get(STATE)
    if not isinstance(state, State):
        msg = "no sessionary session on this request: call sessionary.integrations.aiohttp.setup()"
        raise ConfigurationError(msg)
    return state


def info(request: web.Request, token_header: str | None) -> RequestInfo:
    """The request as the gate sees it (``Upgrade: websocket``: a handshake)."""
    upgrade = request.headers.get("Upgrade", "").lower()
    return request_info(
        request,
        token_header,
        lambda name: request.headers.getall(name, []),
        client=request.remote,
        websocket=upgrade == "websocket",
    )


def error_response(status: int, body: bytes, update: ResponseUpdate | None = None) -> web.Response:
    """A plain-text error answer (``no-store``), with the session's headers if any."""
    response = web.Response(
        status=status, text=body.decode(), headers={"Cache-Control": "no-store"}
    )
    if update is not None:
        apply_update(update, response.headers)
    return response


async def settle(state: State, response: web.StreamResponse) -> web.Response | None:
    """Commit once and add the headers; returns an error response to send instead, if any."""
    if state.settled:
        return None
    state.settled = True
    if state.cycle is None:  # lazy, and the handler never asked for the session
        return None
    answer = await state.manager.settle(state.cycle, state.gate, status=response.status)
    if answer.status is not None:
        return error_response(answer.status, answer.body)
    if answer.update is not None:
        apply_update(answer.update, response.headers)
    return None


async def serve(state: State, request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run ``handler`` and settle the session as its response is returned (or prepared)."""
    request[STATE] = state
    try:
        response = await handler(request)
        if response.prepared:
            return response  # streamed: settled on prepare, the body has been sent
        error = await settle(state, response)
        return error if error is not None else response
    except StoreUnavailableError as exc:
        cycle = state.cycle
        if state.settled or cycle is None:
            raise
        state.settled = True
        answer = await state.manager.settle(cycle, state.gate, error=exc)
        return error_response(answer.status or 503, answer.body, answer.update)
    finally:
        if state.settled and state.cycle is not None:
            await state.manager.after_response(state.cycle)  # a late logout() ends it now


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Streamed responses and WebSocket handshakes: commit just before the headers go out."""
    state = request.get(STATE)
    if not isinstance(state, State):
        return
    if state.hsts is not None:
        response.headers.setdefault(STRICT_TRANSPORT, state.hsts)
    if state.settled:
        return
    error = await settle(state, response)
    if error is not None:
        # aiohttp has already bound this response (and its status) to the connection, so it
        # can be neither swapped nor re-statused: it goes out without a cookie, and the lost
        # session change is logged as an error, never dropped silently (R85).
        response.headers["Cache-Control"] = "no-store"
        logger.error(
            "sessionary: the session could not be saved before a streamed response started "
            "(%s); the response was sent without the session change",
            error.text,
        )
