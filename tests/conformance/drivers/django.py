"""Conformance driver: Django views behind sessionary's Django middleware."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from tests.conformance.driver import AppSpec, Driver, Reply, Request
from tests.conformance.drivers.wsgi import THREADS, sync_store
from tests.django_project.settings import ensure_django

ensure_django()

from django.test import Client  # noqa: E402 - needs configured settings

from sessionary._sync.manager import SessionManager  # noqa: E402
from sessionary.integrations.django import configure  # noqa: E402


class DjangoDriver:
    """Django's test client, a fresh one per request (so no cookie jar carries over)."""

    name = "django"

    def request(self, request: Request) -> Reply:
        """Send one request."""
        client = Client()
        path, _, query = request.path.partition("?")
        url = f"{path}?{query}" if query else path
        response = client.generic(request.method, url, headers=dict(request.headers), secure=True)
        headers = [(k.lower(), v) for k, v in response.items()]
        headers += [("set-cookie", m.OutputString()) for m in response.cookies.values()]
        return Reply(response.status_code, headers, response.content)

    def concurrently(self, requests: Sequence[Request]) -> list[Reply]:
        """Send all requests from a thread pool."""
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(self.request, requests))


@contextmanager
def make_driver(spec: AppSpec) -> Iterator[Driver]:
    """The standard application as Django views, on the spec's store and config."""
    store = sync_store(spec)
    configure(SessionManager(store, spec.config))
    try:
        yield DjangoDriver()
    finally:
        configure(None)
        store.close()
