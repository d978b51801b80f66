"""What every adapter shares for CSRF: the per-request context and the small glue steps.

Decisions live in :mod:`sessionary.sansio.csrf`; adapters only gather the request's headers
and form, and answer ``403 Forbidden`` (generic body) when a check fails.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from sessionary.exceptions import ConfigurationError
from sessionary.observability import Observer, notify
from sessionary.sansio.core import SessionCore
from sessionary.sansio.csrf import ORIGIN_ONLY, CsrfFailure, CsrfGuard, CsrfOptions
from sessionary.sansio.cycle import SessionCycle

__all__ = [
    "CONTEXT_KEY",
    "CsrfContext",
    "find_context",
    "form_token",
    "is_form",
    "make_guard",
    "origin_failure",
    "report",
]

CONTEXT_KEY = "sessionary.csrf"
"""Where adapters keep the request's :class:`CsrfContext` (scope, environ, request)."""
_FORM = "application/x-www-form-urlencoded"


class CsrfContext:
    """The request's CSRF helper: :meth:`token` for templates and scripts, plus names."""

    __slots__ = ("_cycle", "_guard")

    def __init__(self, guard: CsrfGuard, cycle: SessionCycle) -> None:
        self._guard = guard
        self._cycle = cycle

    def __repr__(self) -> str:
        return "CsrfContext(<token hidden>)"

    def token(self) -> str:
        """A masked token for this response (put it in a form field or the header)."""
        return self._guard.token(self._cycle)

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
        return self._guard.check_token(self._cycle, presented)


def find_context(holder: object, key: object, setting: str) -> CsrfContext:
    """The :class:`CsrfContext` stored under ``key`` in a scope, environ or request."""
    getter = getattr(holder, "get", None)
    context = getter(key) if callable(getter) else None
    if not isinstance(context, CsrfContext):
        msg = f"no CSRF context on this request: pass csrf=True to {setting}"
        raise ConfigurationError(msg)
    return context


def make_guard(core: SessionCore, csrf: CsrfOptions | bool | None) -> CsrfGuard | None:
    """The guard for an adapter's ``csrf=`` argument.

    ``None`` (the default): the Origin / ``Sec-Fetch-Site`` check only — which, for a
    ``SameSite=None`` session cookie, also refuses unsafe requests showing no origin at all;
    ``True``: the origin check and the token (recommended); a :class:`CsrfOptions`: as
    configured; ``False``: no checks at all.
    """
    if csrf is False:
        return None
    if csrf is None:
        csrf = ORIGIN_ONLY
    options = CsrfOptions() if csrf is True else csrf
    return CsrfGuard(core.keyring, options.for_cookie(core.config.cookie.samesite))


def origin_failure(
    guard: CsrfGuard, method: str, scheme: str, header: Callable[[str], str | None]
) -> CsrfFailure | None:
    """Run the Origin / Fetch Metadata check with the request's headers (lower-case names)."""
    return guard.check_origin(
        method,
        scheme=scheme,
        host=header("host"),
        origin=header("origin"),
        referer=header("referer"),
        fetch_site=header("sec-fetch-site"),
    )


def is_form(content_type: str | None) -> bool:
    """Whether the body is a URL-encoded form (the one body adapters parse themselves)."""
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == _FORM


def form_token(body: bytes, content_type: str | None, field: str) -> str | None:
    """The token field of a URL-encoded form body (other bodies: use the header)."""
    if not is_form(content_type):
        return None
    try:
        values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(field)
    except ValueError:  # too many fields
        return None
    return values[0] if values else None


def report(
    observer: Observer,
    core: SessionCore,
    failure: CsrfFailure,
    method: str,
    client: str | None,
) -> None:
    """Emit the ``csrf_fail`` event (reason, method, client — never a token value)."""
    event = CsrfGuard.failure_event(failure, now_ms=core.now_ms(), method=method, client=client)
    notify(observer, event)
