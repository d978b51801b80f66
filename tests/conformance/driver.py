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

===========================  ==================================================================
``GET /untouched``           ``{"ok": true}``; never touches the session
``GET /read``                ``{"data": {...}}``: ``dict(session)`` (touches it: 503 when down)
``POST /write``              sets every query parameter ``k=v`` as ``session[k] = v`` (strings);
                             answers ``{"data": {...}}``
``POST /append``             ``session.setdefault("cart", []).append(int(item))`` (nested mutation
                             caught at commit); answers ``{"cart": [...]}``
``POST /login``              ``session.login(user)`` with ``?user=``; answers ``{"user": ...}``
``POST /logout``             ``session.logout()``; answers ``{}``
``GET /whoami``              ``{"user": session.user_id}``
``GET /csrf``                ``{"token": ...}``: the adapter's CSRF token helper (``spec.csrf``; not
                             in the Django drivers, which use Django's own CSRF)
``GET /json``                the session itself as the JSON body, written the framework's usual
                             way: Starlette ``JSONResponse(request.session)``, FastAPI
                             returning ``request.session``, Flask returning ``dict(session)``,
                             WSGI ``json.dumps(session)``, Django
                             ``JsonResponse(dict(request.session))``, aiohttp
                             ``web.json_response(session)``
``POST /dict-ops``           ``before = dict(session)``; ``session |= {"x": "1", "y": "2"}``;
                             ``last = session.popitem()`` (the newest pair, as ``dict`` does);
                             ``copy = session.copy()``; ``copy["z"] = "3"``; answers ``{"last":
                             [...], "equal": session == {**before, "x": "1"}, "copy": copy,
                             "z_in_session": "z" in session}``
``POST /write-then-raise``   sets the query parameters, then raises ``RuntimeError``: the
                             framework answers 500
``POST /write-then-500``     sets the query parameters, then answers 500 ``{"data": {...}}``
``POST /logout-then-raise``  ``session.logout()``, ``session["after"] = "1"``, then raises
``POST /rotate-then-raise``  ``session.rotate()``, sets the query parameters, then raises
===========================  ==================================================================

The Django drivers run the last six routes on ``request.session`` (Django's ``SessionBase``
API: ``logout()``/``rotate()`` are its ``flush()``/``cycle_key()``), the others on
sessionary's ``Session``. A request whose handler raised or answered a 5xx is *failed*: only
a logout or an explicit rotation of it is committed (``spec.commit_on_error`` turns that
off: everything is committed, as on a success). Drivers answer an exception the way the
framework's server would (500) instead of raising it into the test.
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
    commit_on_error: bool = False
    """The adapter's ``commit_on_error=`` option (Django: ``SESSIONARY["COMMIT_ON_ERROR"]``)."""


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


class HandlerFailedError(RuntimeError):
    """What the failing routes raise (the framework answers 500)."""


def failing_view(path: str, query: dict[str, str], session: Any) -> dict[str, Any] | None:
    """The routes that fail (they raise, or return the body of a 500), and ``/dict-ops``.

    ``session`` is the framework's session object: sessionary's ``Session``, Flask's
    ``session``, or Django's ``request.session``. ``None``: not one of these routes.
    """
    if path in ("/write-then-raise", "/write-then-500", "/rotate-then-raise"):
        if path == "/rotate-then-raise":
            session.rotate()
        for key, value in query.items():
            session[key] = value
        if path == "/write-then-500":
            return {"data": dict(session)}
        raise HandlerFailedError(path)
    if path == "/logout-then-raise":
        session.logout()
        session["after"] = "1"
        raise HandlerFailedError(path)
    if path == "/dict-ops":
        before = dict(session)
        session |= {"x": "1", "y": "2"}
        last = session.popitem()
        copy = session.copy()
        copy["z"] = "3"
        return {
            "last": list(last),
            "equal": session == {**before, "x": "1"},
            "copy": copy,
            "z_in_session": "z" in session,
        }
    return None


FAILED_STATUS = {"/write-then-500": 500}
"""The status of the routes of :func:`failing_view` that answer (others: 200)."""
FAILING_ROUTES = (
    "/write-then-raise",
    "/write-then-500",
    "/logout-then-raise",
    "/rotate-then-raise",
    "/dict-ops",
)
"""The paths :func:`failing_view` serves (all ``POST``)."""
