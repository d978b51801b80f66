"""The Quart adapter's per-request pieces: its session class, its state, its response body.

Kept apart from :mod:`sessionary.integrations.quart` (the extension and its session
interface), as :mod:`sessionary.integrations._flask_session` is from the Flask adapter's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, cast

from quart import Response, has_websocket_context, request, websocket
from quart.wrappers.response import ResponseBody
from werkzeug.exceptions import HTTPException

from sessionary.exceptions import StoreUnavailableError
from sessionary.integrations._flask_session import STATE_KEY, FlaskSession, RequestState
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Gate

__all__ = [
    "PLAIN",
    "Finishing",
    "QuartSession",
    "refused",
    "scope_of",
    "state_of",
    "strict_transport",
    "unavailable",
]

PLAIN = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


def scope_of(connection: Any) -> MutableMapping[str, Any]:
    """The ASGI scope of a Quart request or WebSocket (where sessionary keeps its state)."""
    return cast(MutableMapping[str, Any], connection.scope)


def state_of() -> RequestState | None:
    """The current request's (or WebSocket's) state."""
    state = scope_of(websocket if has_websocket_context() else request).get(STATE_KEY)
    return state if isinstance(state, RequestState) else None


class QuartSession(FlaskSession):
    """``quart.session``: the request's :class:`sessionary.Session`, with Flask's attributes.

    The same object as the Flask adapter's :class:`~sessionary.integrations.flask.FlaskSession`
    (``new``, ``modified``, ``accessed``, ``permanent``; ``login``, ``logout``, ``rotate``...),
    found in Quart's request or WebSocket context.
    """

    __slots__ = ()

    @property
    def cycle(self) -> SessionCycle:
        """The request's session cycle (inside a request)."""
        state = state_of()
        assert state is not None, "quart.session is not a sessionary session"
        assert state.cycle is not None  # a Quart mount loads eagerly
        return state.cycle


class Finishing(ResponseBody):
    """A response body that awaits ``finish()`` once it has been sent.

    Quart sends the body after the request's context is gone, so a ``logout()`` called while
    a streamed body is produced is performed here (docs/security.md R85).
    """

    def __init__(self, body: ResponseBody, finish: Callable[[], Awaitable[None]]) -> None:
        self.body, self.finish = body, finish

    async def __aenter__(self) -> Any:
        return await self.body.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self.body.__aexit__(*exc)
        finally:
            await self.finish()

    def __aiter__(self) -> AsyncIterator[Any]:  # pragma: no cover - Quart iterates __aenter__'s
        return cast(AsyncIterator[Any], self.body.__aiter__())  # type: ignore[attr-defined]


async def refused() -> Response | None:
    """``before_request`` / ``before_websocket``: answer a refused request before any view."""
    state = state_of()
    refusal = None if state is None else state.refusal
    if isinstance(refusal, HTTPException):
        raise refusal
    if refusal is None:
        return None
    if has_websocket_context() and "websocket.http.response" not in (
        scope_of(websocket).get("extensions") or {}
    ):
        await websocket.close(refusal.close_code or 1008)  # the server cannot answer 403
    return Response(refusal.body, refusal.status, PLAIN)


def unavailable(error: StoreUnavailableError) -> tuple[str, int, dict[str, str]]:
    """The error handler of a store outage met by a view: 503, generic, not cached."""
    return "Service Unavailable", 503, {"Cache-Control": "no-store"}


def strict_transport(gate: Gate) -> Callable[[Response], Awaitable[Response]]:
    """``after_request``: ``Strict-Transport-Security`` on an HTTPS response without one."""

    async def add(response: Response) -> Response:
        value = gate.strict_transport_for(request.scheme)
        if value is not None:
            response.headers.setdefault("Strict-Transport-Security", value)
        return response

    return add
