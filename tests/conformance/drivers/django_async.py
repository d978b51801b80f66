"""Conformance driver: Django in async mode (async views, ``AsyncClient``, the async store).

The same standard application as the sync Django driver, served through sessionary's
middleware in its async mode, which loads and commits with the asyncio store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, override_settings
from django.urls import path

from sessionary.integrations.django import get_session
from sessionary.stores import AsyncMemoryStore, MemoryStore
from sessionary.stores.base import AsyncSessionStore, SessionStore
from sessionary.stores.cookie import CookieStore
from sessionary.stores.memory import MemoryEngine
from tests.conformance.driver import STEP_S, AppSpec, Driver, Reply, Request
from tests.conformance.drivers.asgi import async_store
from tests.conformance.drivers.django import (
    HOSTS,
    MIDDLEWARE,
    client_arguments,
    django_view,
    reply_of,
)
from tests.conformance.drivers.wsgi import sync_store
from tests.conformance.loop_thread import LoopDriver, loop_thread


async def standard(request: HttpRequest, name: str) -> HttpResponse:
    """Every route of the standard application, as an async view."""
    if name == "increment":  # its pause must not block the loop
        session = get_session(request).sessionary  # loaded by the middleware: no I/O here
        n = session.get("n", 0)
        await asyncio.sleep(STEP_S)
        session["n"] = n + 1
        return JsonResponse({"n": n + 1})
    return django_view(request, name)


urlpatterns = [path("<str:name>", standard)]


class _OneHostClient(AsyncClient):
    """Django's AsyncClient, with one ``Host``: the request's own, when it sets one.

    (It always sends ``host: testserver``, and a second ``Host`` would be joined to it.)
    """

    async def request(self, **request: Any) -> Any:
        headers = request["headers"]
        hosts = [pair for pair in headers if pair[0] == b"host"]
        request["headers"] = [pair for pair in headers if pair[0] != b"host"] + hosts[-1:]
        return await super().request(**request)


class AsyncDjangoDriver(LoopDriver):
    """Django's AsyncClient on a private event loop, a fresh client per request."""

    name = "django-async"

    async def send(self, request: Request) -> Reply:
        """Send one request through Django's AsyncClient."""
        client = _OneHostClient(raise_request_exception=False)
        response = await client.generic(request.method, request.path, **client_arguments(request))
        return reply_of(response)


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as async Django views, on the spec's store and config."""
    with loop_thread() as loop:
        store, async_ = loop.run(_twin_stores(spec))
        sessionary = {
            "CONFIG": spec.config,
            "STORE": store,
            "ASYNC_STORE": async_,
            **spec.django_settings(),
        }
        try:
            with override_settings(
                ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, SESSIONARY=sessionary, **HOSTS
            ):
                yield AsyncDjangoDriver(loop)
        finally:
            store.close()
            loop.run(async_.aclose())


async def _twin_stores(spec: AppSpec) -> tuple[SessionStore, AsyncSessionStore]:
    """Sync and async stores over the same sessions (the async one bound to the loop)."""
    if spec.store == "memory":
        engine = MemoryEngine()
        return MemoryStore(engine=engine), AsyncMemoryStore(engine=engine)
    sync, async_ = sync_store(spec), async_store(spec)
    # The Django engine needs server-side stores (session keys); no CookieStore here.
    assert not isinstance(sync, CookieStore)
    assert not isinstance(async_, CookieStore)
    return sync, async_
