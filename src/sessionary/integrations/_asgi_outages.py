"""A wrapped Starlette/FastAPI app answers the session's store outage 503, not 500."""

from __future__ import annotations

from collections.abc import MutableMapping

from sessionary.exceptions import StoreError, StoreUnavailableError
from sessionary.integrations._asgi import Receive, Scope, Send, send_error
from sessionary.sansio.settle import REASONS

__all__ = ["answer_store_outages"]


class _PlainResponse:
    """A minimal ASGI response (for an exception handler registered on a wrapped app)."""

    def __init__(self, status: int) -> None:
        self.status = status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_error(send, self.status, REASONS[self.status])


async def _store_unavailable(connection: object, error: Exception) -> _PlainResponse:
    scope = getattr(connection, "scope", None)
    if not isinstance(scope, MutableMapping) or scope.get("type") != "http":
        raise error  # a WebSocket: it reaches the middleware and the server, as before
    return _PlainResponse(503)


def answer_store_outages(app: object) -> None:
    """Give a wrapped Starlette/FastAPI app a 503 handler for ``StoreUnavailableError``.

    ``SessionMiddleware(Starlette(...), ...)`` sits outside the app's own
    ``ServerErrorMiddleware``, which answers any unhandled exception 500 before this
    middleware could answer 503; an exception handler runs first. A handler the app has
    for the error (or one of its sessionary base classes) is kept.
    """
    handlers = getattr(app, "exception_handlers", None)
    add = getattr(app, "add_exception_handler", None)
    if not isinstance(handlers, dict) or not callable(add):
        return
    if any(cls in handlers for cls in StoreUnavailableError.__mro__ if issubclass(cls, StoreError)):
        return
    add(StoreUnavailableError, _store_unavailable)
