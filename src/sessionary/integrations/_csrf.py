"""What every adapter shares for CSRF: the per-request helper and the form-field parser.

Decisions live in the core (:mod:`sessionary.sansio.csrf`, checked by the request gate
:mod:`sessionary.sansio.gate`); adapters only read the form when the gate asks and keep the
request's :class:`CsrfContext` where their ``csrf_token()`` helper finds it.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from sessionary.exceptions import ConfigurationError
from sessionary.sansio.csrf import CsrfFailure, CsrfGuard
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Gate, make_guard

__all__ = ["CONTEXT_KEY", "CsrfContext", "context_for", "find_context", "form_token", "make_guard"]

CONTEXT_KEY = "sessionary.csrf"
"""Where adapters keep the request's :class:`CsrfContext` (scope, environ, request)."""


class CsrfContext:
    """The request's CSRF helper: :meth:`token` for templates and scripts, plus names."""

    __slots__ = ("_cycle", "_guard")

    def __init__(self, guard: CsrfGuard, cycle: SessionCycle | Callable[[], SessionCycle]) -> None:
        """``cycle``: the request's cycle, or a function beginning it on first use."""
        self._guard = guard
        self._cycle = cycle

    def _current(self) -> SessionCycle:
        cycle = self._cycle
        return cycle if isinstance(cycle, SessionCycle) else cycle()

    def __repr__(self) -> str:
        return "CsrfContext(<token hidden>)"

    def token(self) -> str:
        """A masked token for this response (put it in a form field or the header)."""
        return self._guard.token(self._current())

    @property
    def header_name(self) -> str:
        """The request header scripts send the token in (``X-CSRF-Token``)."""
        return self._guard.options.header_name

    @property
    def field_name(self) -> str:
        """The form field HTML forms send the token in (``csrf_token``)."""
        return self._guard.options.field_name

    @property
    def requires_token(self) -> bool:
        """Whether unsafe requests must carry a token on this mount."""
        return self._guard.options.require_token

    def check_token(self, presented: str | None) -> CsrfFailure | None:
        """Verify the token presented with this unsafe request."""
        return self._guard.check_token(self._current(), presented)


def context_for(gate: Gate, cycle: SessionCycle) -> CsrfContext | None:
    """The request's helper, or ``None`` when the mount has CSRF protection off."""
    return None if gate.csrf is None else CsrfContext(gate.csrf, cycle)


def find_context(holder: object, key: object, hint: str) -> CsrfContext:
    """The :class:`CsrfContext` stored under ``key`` in a scope, environ or request.

    A function stored there instead is called for it (an adapter that builds it on demand).

    ``hint`` says how to turn CSRF protection on, for the error when it is off.
    """
    getter = getattr(holder, "get", None)
    context = getter(key) if callable(getter) else None
    if callable(context):  # built on first use (a deferred ASGI connection)
        context = context()
    if not isinstance(context, CsrfContext):
        msg = f"no CSRF context on this request: {hint}"
        raise ConfigurationError(msg)
    return context


def form_token(body: bytes, field: str) -> str | None:
    """The token field of a URL-encoded form body (other bodies: use the header)."""
    try:
        values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(field)
    except ValueError:  # too many fields
        return None
    return values[0] if values else None
