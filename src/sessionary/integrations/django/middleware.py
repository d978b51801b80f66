"""sessionary's Django middleware: the request/response cycle around every view."""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from sessionary.exceptions import StoreConflictError, StoreUnavailableError
from sessionary.integrations.django.conf import get_manager
from sessionary.integrations.django.store import SessionStore
from sessionary.sansio.cycle import ResponseUpdate
from sessionary.sansio.headers import header_changes

__all__ = ["SessionMiddleware"]

GetResponse = Callable[[HttpRequest], HttpResponseBase]


def _error(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _meta_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _apply(update: ResponseUpdate, response: HttpResponseBase) -> None:
    changes = header_changes(update, response.headers.get("Vary"))
    for name, value in changes.replace.items():
        response.headers[name] = value
    for _, value in changes.append:  # Set-Cookie: through Django's cookie jar
        parsed: SimpleCookie = SimpleCookie()
        try:
            parsed.load(value)
        except CookieError:
            parsed = SimpleCookie()
        if len(parsed) == 1:
            response.cookies.update(parsed)
        else:  # attributes SimpleCookie does not know (Partitioned): send as is
            response.headers["Set-Cookie"] = value


class SessionMiddleware:
    """Replaces ``django.contrib.sessions.middleware.SessionMiddleware``.

    ``request.session`` is a :class:`~sessionary.integrations.django.SessionStore`; the
    session is committed after the view, before the response leaves. A store outage answers
    503 (only when the view touched the session); a refused commit (``raise`` policy) 409.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        """Open the session, run the view, commit."""
        manager = get_manager()
        meta = request.META
        header = manager.request_header
        tokens: list[str] = []
        if header is not None and _meta_name(header) in meta:
            tokens.append(meta[_meta_name(header)])
        cookies = [meta["HTTP_COOKIE"]] if "HTTP_COOKIE" in meta else []
        cycle = manager.open(cookies, client=meta.get("REMOTE_ADDR"), token_headers=tokens)
        store = SessionStore(cycle.loaded_id, manager=manager, cycle=cycle)
        request.session = store
        response = self.get_response(request)
        if getattr(response, "_sessionary_error", False):
            return response
        try:
            update = store.commit() if store._cycle is not None else store.last_update
        except StoreUnavailableError:
            return _error(503, "Service Unavailable")
        except StoreConflictError:
            return _error(409, "Conflict")
        if update is not None:
            _apply(update, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view that touched an unavailable store gets a 503, not a 500."""
        if isinstance(exception, StoreUnavailableError):
            response = _error(503, "Service Unavailable")
            response._sessionary_error = True  # type: ignore[attr-defined]
            return response
        return None
