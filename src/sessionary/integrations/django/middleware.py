"""sessionary's Django middleware: the session cycle around every request, sync or async."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import suppress
from dataclasses import replace
from http.cookies import SimpleCookie
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)

from sessionary.exceptions import SessionaryError, StoreUnavailableError
from sessionary.integrations._commit_errors import (
    COMMIT_ERRORS,
    commit_failure,
    delivers_id,
    failed,
)
from sessionary.integrations.django.conf import Runtime, get_runtime
from sessionary.integrations.django.store import SessionStore
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.headers import header_changes

__all__ = ["SessionMiddleware"]

GetResponse = Callable[[HttpRequest], Any]


def _error(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
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


def _tenant_of(request: HttpRequest, runtime: Runtime) -> str | None:
    """The request's tenant (``""`` without ``TENANTS``); ``None`` for a host without one."""
    if runtime.tenants is None:
        return ""
    return runtime.tenants.resolve(request.META.get("HTTP_HOST"))


def _presented(request: HttpRequest, runtime: Runtime) -> tuple[list[str], list[str]]:
    """The request's ``Cookie`` values and the values of the token header (header mode)."""
    header = runtime.request_header
    tokens = _header_values(request, header) if header is not None else []
    return _header_values(request, "cookie"), tokens


def _into_cookie_jar(response: HttpResponseBase, set_cookie: str) -> bool:
    """Put a ``Set-Cookie`` value into ``response.cookies`` (where Django's tools look)."""
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(set_cookie)  # our own rendering: a valid token name and value
    if len(parsed) != 1:  # an attribute SimpleCookie does not know (Partitioned)
        return False
    response.cookies.update(parsed)
    return True


def _apply(update: ResponseUpdate, response: HttpResponseBase) -> None:
    changes = header_changes(update, response.headers.get("Vary"))
    for name, value in changes.replace.items():
        response.headers[name] = value
    for name, value in changes.append:
        if name.lower() != "set-cookie" or not _into_cookie_jar(response, value):
            response.headers[name] = value


def _end_with_the_stream(response: StreamingHttpResponse, store: SessionStore) -> None:
    """Once the streamed body is sent (or dropped): end a session ``flush()``-ed meanwhile.

    The cookie went out with the headers; a ``flush()`` while streaming raises
    :class:`~sessionary.exceptions.SessionClosedError` and the stored session ends here.
    (A ``FileResponse`` is left alone: it may be handed to ``wsgi.file_wrapper``.)
    """
    content = response.streaming_content
    if response.is_async:
        chunks = cast(AsyncIterator[bytes], content)

        async def then_end() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    yield chunk
            finally:
                await store.aafter_response()

        response.streaming_content = then_end()
        return
    parts = cast(Iterator[bytes], content)

    def then_end_sync() -> Iterator[bytes]:
        try:
            yield from parts
        finally:
            store.after_response()

    response.streaming_content = then_end_sync()


class SessionMiddleware:
    """Replaces ``django.contrib.sessions.middleware.SessionMiddleware``.

    Loads the session before the view (no ID: no store call; an ID: one round trip) and
    commits it after, before the response leaves. ``request.session`` is a
    :class:`~sessionary.integrations.django.SessionStore`. A store outage answers 503, and only
    when the view touched the session; a commit refused by the ``raise`` conflict policy 409.
    A failed request (a 5xx, or an exception let through) commits only a logout or a
    rotation (``SESSIONARY["COMMIT_ON_ERROR"] = True``: everything, as on a success); the
    response carries the cleared cookie or the new ID. ``request.session.modified = False``
    after the last change drops the data changes, as Django's middleware would not save.
    Works in both of Django's modes: under ASGI it awaits the async store.
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
        tenant = _tenant_of(request, runtime)
        if tenant is None:
            return _error(400, "Bad Request")
        cookies, tokens = _presented(request, runtime)
        cycle = runtime.manager.open(
            cookies,
            client=request.META.get("REMOTE_ADDR"),
            token_headers=tokens,
            user_agent=request.META.get("HTTP_USER_AGENT"),
            tenant=tenant,
        )
        store = self._install(request, runtime, cycle, tenant)
        try:
            response = self.get_response(request)
        except Exception:  # DEBUG_PROPAGATE_EXCEPTIONS: no response, the request failed
            with suppress(SessionaryError):
                store.finish(failed=not runtime.commit_on_error)
            raise
        try:
            update = store.finish(failed=failed(response.status_code, runtime.commit_on_error))
        except COMMIT_ERRORS as error:
            return _error(*commit_failure(error))
        return self._respond(store, update, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        """Handle one request in async mode."""
        runtime = get_runtime()
        tenant = _tenant_of(request, runtime)
        if tenant is None:
            return _error(400, "Bad Request")
        cookies, tokens = _presented(request, runtime)
        client = request.META.get("REMOTE_ADDR")
        agent = request.META.get("HTTP_USER_AGENT")
        manager = runtime.async_manager
        cycle: SessionCycle
        if manager is not None:
            cycle = await manager.open(
                cookies, client=client, token_headers=tokens, user_agent=agent, tenant=tenant
            )
        else:
            open_sync: Callable[..., Awaitable[SessionCycle]] = sync_to_async(runtime.manager.open)
            cycle = await open_sync(
                cookies, client=client, token_headers=tokens, user_agent=agent, tenant=tenant
            )
        store = self._install(request, runtime, cycle, tenant)
        try:
            response = await self.get_response(request)
        except Exception:  # DEBUG_PROPAGATE_EXCEPTIONS: no response, the request failed
            with suppress(SessionaryError):
                await store.afinish(failed=not runtime.commit_on_error)
            raise
        try:
            update = await store.afinish(
                failed=failed(response.status_code, runtime.commit_on_error)
            )
        except COMMIT_ERRORS as error:
            return _error(*commit_failure(error))
        return self._respond(store, update, response)

    @staticmethod
    def _install(
        request: HttpRequest, runtime: Runtime, cycle: SessionCycle, tenant: str
    ) -> SessionStore:
        store = SessionStore(cycle.loaded_id, runtime=runtime, cycle=cycle, tenant=tenant)
        request.session = store
        return store

    @staticmethod
    def _respond(
        store: SessionStore, update: ResponseUpdate, response: HttpResponseBase
    ) -> HttpResponseBase:
        if store.store_failed and response.status_code == 500:
            # A middleware below this one touched the unavailable store (views get their
            # 503 from process_exception).
            return _error(503, "Service Unavailable")
        if not store.accessed and not delivers_id(update):
            update = replace(update, vary_cookie=False)  # ``accessed = False``, as in Django
        _apply(update, response)
        if isinstance(response, StreamingHttpResponse) and not isinstance(response, FileResponse):
            _end_with_the_stream(response, store)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view that touched an unavailable store answers 503, not 500 (and no cookie)."""
        if isinstance(exception, StoreUnavailableError):
            session = getattr(request, "session", None)
            if isinstance(session, SessionStore):
                session.refuse(exception)
            return _error(503, "Service Unavailable")
        return None
