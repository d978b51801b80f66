"""sessionary's Django middleware: the session cycle around every request, sync or async.

It translates the ``HttpRequest`` for the request gate (:mod:`sessionary.sansio.gate`:
``SESSIONARY["TENANTS"]``, ``["CSRF"]``, ``["LOCK"]``, ``["STORE_DOWN"]``), has the manager
admit it, and settles the session through the engine's ``SessionStore`` (which may have
committed earlier in the view: an explicit ``save()``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import replace
from functools import partial
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)

from sessionary.exceptions import SessionaryError, StoreUnavailableError
from sessionary.integrations._csrf import CONTEXT_KEY, CsrfContext, context_for
from sessionary.integrations._info import environ_info
from sessionary.integrations.django.conf import Runtime, get_runtime
from sessionary.integrations.django.response import apply, end_with_the_stream
from sessionary.integrations.django.store import SessionStore
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.gate import NeedForm, Open, Refuse, RequestInfo
from sessionary.sansio.settle import Answer, delivers_id

__all__ = ["SessionMiddleware"]

GetResponse = Callable[[HttpRequest], Any]
Entry = SessionCycle | Refuse | NeedForm


def _error(status: int, body: bytes) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _header_values(request: HttpRequest, name: str) -> list[str]:
    """Every value of request header ``name`` (lower case), one per header line.

    Under ASGI the raw scope is read: Django joins repeated headers with ``,``, which would
    merge several ``Cookie`` lines (HTTP/2) into one unparsable value (R23).
    """
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        raw = name.encode("latin-1")
        return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == raw]
    key = "HTTP_" + name.upper().replace("-", "_")
    meta = request.META
    return [meta[key]] if key in meta else []


def _info(request: HttpRequest, runtime: Runtime) -> RequestInfo:
    header = runtime.request_header
    cookies = _header_values(request, "cookie")
    tokens = _header_values(request, header) if header is not None else []
    return environ_info(request.META, header, scheme=request.scheme, cookies=cookies, tokens=tokens)


def _strict_transport(
    runtime: Runtime, request: HttpRequest, response: HttpResponseBase
) -> HttpResponseBase:
    """``Strict-Transport-Security`` on an HTTPS response that has none.

    ``request.scheme`` follows ``SECURE_PROXY_SSL_HEADER``; Django's ``SecurityMiddleware``
    (``SECURE_HSTS_SECONDS``) leaves a value already set alone.
    """
    gate = runtime.gate
    if gate.strict_transport is not None:
        value = gate.strict_transport_for(request.scheme or "http")
        if value is not None and "Strict-Transport-Security" not in response.headers:
            response.headers["Strict-Transport-Security"] = value
    return response


def _with_form(request: HttpRequest, info: RequestInfo, need: NeedForm) -> RequestInfo:
    """Django parses the form (its ``DATA_UPLOAD_MAX_*`` limits apply)."""
    value = request.POST.get(need.field)
    return info.with_form(value if isinstance(value, str) else None)


class SessionMiddleware:
    """Replaces ``django.contrib.sessions.middleware.SessionMiddleware``.

    Loads the session before the view (no ID: no store call; an ID: one round trip) and
    commits it after, before the response leaves. ``request.session`` is a
    :class:`~sessionary.integrations.django.SessionStore`. A refused request is answered
    before the view (400, 403, 409); a store outage answers 503, and only when the view
    touched the session; a refused commit 403 or 409. A failed request (a 5xx, or an
    exception let through) commits only a logout or a rotation
    (``SESSIONARY["COMMIT_ON_ERROR"] = True``: everything); the response carries the
    cleared cookie or the new ID. Works in both of Django's modes: under ASGI it awaits the
    async store.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        get_runtime()  # check the settings at start-up (R18)

    def __call__(self, request: HttpRequest) -> Any:
        """Handle one request (returns a coroutine in async mode)."""
        if self.async_mode:
            return self.__acall__(request)
        runtime = get_runtime()
        info = _info(request, runtime)
        store: SessionStore | HttpResponse | None = self._lazily(request, runtime, info)
        if store is None:
            admit = partial(runtime.manager.admit, runtime.gate)
            entry = admit(info, request)
            if isinstance(entry, NeedForm):
                entry = admit(_with_form(request, info, entry), request)
            store = self._install(request, runtime, entry)
        if not isinstance(store, SessionStore):
            return _strict_transport(runtime, request, store)
        try:
            response = self.get_response(request)
        except Exception as exc:  # DEBUG_PROPAGATE_EXCEPTIONS: no response, the request failed
            with suppress(SessionaryError):
                store.settle(error=exc)
            raise
        response = self._respond(store, store.settle(status=response.status_code), response)
        return _strict_transport(runtime, request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        """Handle one request in async mode."""
        runtime = get_runtime()
        manager = runtime.async_manager
        admit: Callable[[RequestInfo, HttpRequest], Awaitable[Entry]] = (
            partial(manager.admit, runtime.gate)
            if manager is not None
            else sync_to_async(partial(runtime.manager.admit, runtime.gate))
        )
        info = _info(request, runtime)
        store: SessionStore | HttpResponse | None = self._lazily(request, runtime, info)
        if store is None:
            entry = await admit(info, request)
            if isinstance(entry, NeedForm):
                entry = await admit(_with_form(request, info, entry), request)
            store = self._install(request, runtime, entry)
        if not isinstance(store, SessionStore):
            return _strict_transport(runtime, request, store)
        try:
            response = await self.get_response(request)
        except Exception as exc:  # DEBUG_PROPAGATE_EXCEPTIONS: no response, the request failed
            with suppress(SessionaryError):
                await store.asettle(error=exc)
            raise
        response = self._respond(store, await store.asettle(status=response.status_code), response)
        return _strict_transport(runtime, request, response)

    @staticmethod
    def _lazily(request: HttpRequest, runtime: Runtime, info: RequestInfo) -> SessionStore | None:
        """``request.session`` loading on first use (``SESSIONARY["LAZY"]``), or ``None``.

        Only for a request the gate opens with no token to check and no lock to take; the
        others are admitted (and loaded) at once.
        """
        if not runtime.lazy:
            return None
        gate = runtime.gate
        opened = gate.decide(info, request)
        if not isinstance(opened, Open) or opened.check_token or opened.lock:
            return None
        store = SessionStore(runtime=runtime, tenant=opened.tenant, admitted=(info, opened))
        request.session = store
        if gate.csrf is not None:
            request.META[CONTEXT_KEY] = CsrfContext(gate.csrf, store.lazy_cycle)
        return store

    @staticmethod
    def _install(
        request: HttpRequest, runtime: Runtime, entry: Entry
    ) -> SessionStore | HttpResponse:
        """``request.session`` for the admitted request, or the refusal to answer instead."""
        assert not isinstance(entry, NeedForm)  # the form was read
        if isinstance(entry, Refuse):
            return _error(entry.status, entry.body)
        store = SessionStore(entry.loaded_id, runtime=runtime, cycle=entry, tenant=entry.tenant)
        request.session = store
        context = context_for(runtime.gate, entry)
        if context is not None:
            request.META[CONTEXT_KEY] = context
        return store

    @staticmethod
    def _respond(
        store: SessionStore, answer: Answer, response: HttpResponseBase
    ) -> HttpResponseBase:
        if answer.status is not None:
            return _error(answer.status, answer.body)
        update = answer.update or ResponseUpdate()
        if not store.accessed and not delivers_id(update):
            # ``accessed = False``, as in Django: the response does not depend on the session
            update = replace(update, vary_cookie=False, cache_control=None)
        apply(update, response)
        if isinstance(response, StreamingHttpResponse) and not isinstance(response, FileResponse):
            end_with_the_stream(response, store)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view that touched an unavailable store answers 503, not 500 (and no cookie)."""
        if isinstance(exception, StoreUnavailableError):
            session = getattr(request, "session", None)
            if isinstance(session, SessionStore):
                session.refuse(exception)
            return _error(503, b"Service Unavailable")
        return None
