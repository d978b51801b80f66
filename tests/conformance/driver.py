"""The adapter conformance interface: one standard app per framework, driven the same way.

Each adapter provides ``tests/conformance/drivers/<name>.py`` with a function::

    @contextmanager
    def make_driver(spec: AppSpec) -> Iterator[Driver]: ...

that builds the *standard application* below in its framework, wrapped by the sessionary
adapter with ``spec.config`` and a store for ``spec.store`` (``"memory"``, ``"redis"`` with
``spec.redis_url`` / ``spec.key_prefix``, ``"cookie"``: the sealed ``CookieStore``, or
``"down"``: a Redis URL nobody listens on), and
drives it with the framework's own test client. Drivers are stateless about cookies: the suite
sends ``Cookie`` (or the token header) itself and reads ``Set-Cookie`` from replies, so a
test client's cookie jar must be disabled (or cleared before every request) — otherwise
concurrent "new" sessions would share the first cookie.

The standard application (every route answers JSON, status 200 unless stated):

=====================  ====================================================================
``GET /untouched``     ``{"ok": true}``; never touches the session
``GET /read``          ``{"data": {...}}``: ``dict(session)`` (touches it: 503 when down)
``POST /write``        sets every query parameter ``k=v`` as ``session[k] = v`` (strings);
                       answers ``{"data": {...}}``
``POST /append``       ``session.setdefault("cart", []).append(int(item))`` (nested mutation
                       caught at commit); answers ``{"cart": [...]}``
``POST /login``        ``session.login(user)`` with ``?user=``; answers ``{"user": ...}``
``POST /logout``       ``session.logout()``; answers ``{}``
``GET /whoami``        ``{"user": session.user_id}``
``GET /csrf``          ``{"token": ...}``: the adapter's CSRF token helper (``spec.csrf``; not
                       in the Django drivers, which use Django's own CSRF)
=====================  ====================================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sessionary import SessionConfig

StoreKind = Literal["memory", "redis", "down", "cookie"]


@dataclass(frozen=True)
class AppSpec:
    """What a driver must build."""

    store: StoreKind
    config: SessionConfig
    redis_url: str = ""
    key_prefix: str = "sessionary-conformance"
    csrf: bool | None = None
    """The adapter's ``csrf=`` argument: ``None`` (its default: the origin check only),
    ``True`` (origin and token) or ``False`` (no checks)."""


@dataclass(frozen=True)
class Request:
    """One request: method, path with query string, extra headers (name, value)."""

    method: str
    path: str
    headers: Sequence[tuple[str, str]] = ()


@dataclass
class Reply:
    """One response, normalised: lower-case header names in order, JSON body if any."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def all(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive)."""
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def header(self, name: str) -> str | None:
        """The values of header ``name`` joined by ``", "`` (``None`` when absent)."""
        values = self.all(name)
        return ", ".join(values) if values else None

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class Driver(Protocol):
    """A running standard application behind one adapter."""

    name: str

    def request(self, request: Request) -> Reply:
        """Send one request and return its reply."""
        ...

    def concurrently(self, requests: Sequence[Request]) -> list[Reply]:
        """Send all requests at once (threads or tasks) and return replies in order."""
        ...


MakeDriver = Callable[[AppSpec], AbstractContextManager[Driver]]

DOWN_URL = "redis://127.0.0.1:1/0"
"""The store URL of ``spec.store == "down"``: nobody listens there."""
THREADS = 32


class ThreadedDriver:
    """Base of the sync frameworks' drivers: ``concurrently`` runs ``request`` in threads."""

    def request(self, request: Request) -> Reply:
        """Send one request (framework specific)."""
        raise NotImplementedError

    def concurrently(self, requests: Sequence[Request]) -> list[Reply]:
        """Send all requests from a thread pool."""
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(self.request, requests))


def normalise_headers(
    pairs: Iterator[tuple[str, str]] | Sequence[tuple[str, str]],
) -> list[tuple[str, str]]:
    """Lower-case header names, keep order and repeated headers."""
    return [(k.lower(), v) for k, v in pairs]
