"""The Flask adapter's request hooks and translations, apart from its session interface.

:mod:`sessionary.integrations.flask` registers these: the ``before_request`` hook answering
a refused request, the ``after_request`` hook adding HSTS, the store-outage error handler;
and it opens a lazy mount's requests with :func:`open_lazily`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from flask import Request, Response
from flask import request as current_request
from flask.sessions import SessionMixin
from werkzeug.exceptions import HTTPException

from sessionary._sync.manager import SessionManager
from sessionary.exceptions import StoreUnavailableError
from sessionary.integrations._csrf import CONTEXT_KEY, CsrfContext
from sessionary.integrations._flask_session import STATE_KEY, RequestState, pending_session
from sessionary.integrations._info import request_info
from sessionary.sansio.gate import Gate, Open, RequestInfo

__all__ = ["PLAIN", "info_of", "open_lazily", "refused", "strict_transport", "unavailable"]

PLAIN = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


def info_of(request: Request, token_header: str | None) -> RequestInfo:
    """The Flask request as the gate sees it."""
    return request_info(request, token_header, request.headers.getlist, client=request.remote_addr)


def open_lazily(
    manager: SessionManager, gate: Gate, request: Request, info: RequestInfo, opened: Open
) -> SessionMixin:
    """A lazy mount's request: its state kept for the first use, a placeholder session."""
    state = RequestState(None, None, manager=manager, admitted=(info, opened))
    request.environ[STATE_KEY] = state
    guard = gate.csrf
    request.environ[CONTEXT_KEY] = None if guard is None else CsrfContext(guard, state.load)
    return cast(SessionMixin, pending_session(manager.core.codec))


def refused() -> Response | None:
    """``before_request``: answer a request the gate refused, before any view."""
    state = current_request.environ.get(STATE_KEY)
    refusal = state.refusal if isinstance(state, RequestState) else None
    if isinstance(refusal, HTTPException):
        raise refusal
    return None if refusal is None else Response(refusal.body, refusal.status, PLAIN)


def strict_transport(gate: Gate) -> Callable[[Response], Response]:
    """``after_request``: ``Strict-Transport-Security`` on an HTTPS response without one."""

    def add(response: Response) -> Response:
        value = gate.strict_transport_for(current_request.scheme)
        if value is not None:
            response.headers.setdefault("Strict-Transport-Security", value)
        return response

    return add


def unavailable(error: StoreUnavailableError) -> tuple[str, int, dict[str, str]]:
    """The error handler of a store outage met by a view: 503, generic, not cached."""
    return "Service Unavailable", 503, {"Cache-Control": "no-store"}
