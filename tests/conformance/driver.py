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
``GET /whoami``              ``{"user": session.user_id}``; with ``?cache=v`` the application sets
                             its own ``Cache-Control: v`` on the response, with ``?sts=v`` its
                             own ``Strict-Transport-Security: v``
``GET /csrf``                ``{"token": ...}``: the adapter's CSRF token helper (``spec.csrf``; not
                             in the Django drivers, which use Django's own CSRF)
``GET /json``                the session itself as the JSON body, written the framework's usual
                             way: Starlette ``JSONResponse(request.session)``, FastAPI
                             returning ``request.session``, Flask returning ``dict(session)``,
                             WSGI ``json.dumps(session)``, Django
                             ``JsonResponse(dict(request.session))``, aiohttp
                             ``web.json_response(session)``, Litestar returning
                             ``request.session``, Quart returning ``dict(session)``
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
``POST /increment``          ``n = session.get("n", 0)``, a pause of :data:`STEP_S` (the
                             framework's own way: ``await asyncio.sleep`` where the handler is
                             async), then ``session["n"] = n + 1``; answers ``{"n": n + 1}``: a
                             read-modify-write that loses updates unless the lock serialises it
``WS /ws``                   (adapters that serve WebSockets) accepts, sends ``{"data":
                             dict(session)}`` as JSON and closes
===========================  ==================================================================

The request options of the spec (:meth:`AppSpec.options`) reach the adapter by its own
names: ``csrf``, ``tenants``, ``lock`` and ``store_down`` (functions of the framework's own
request object, deciding by its path), ``websocket_origins`` and ``commit_on_error``
(Django: the same names, upper case, in ``SESSIONARY``: :meth:`AppSpec.django_settings`).

The Django drivers run the last six routes on ``request.session`` (Django's ``SessionBase``
API: ``logout()``/``rotate()`` are its ``flush()``/``cycle_key()``), the others on
sessionary's ``Session``. A request whose handler raised or answered a 5xx is *failed*: only
a logout or an explicit rotation of it is committed (``spec.commit_on_error`` turns that
off: everything is committed, as on a success). Drivers answer an exception the way the
framework's server would (500) instead of raising it into the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sessionary import SessionConfig, StoreDownPolicy
from sessionary.sansio.csrf import CsrfOptions

StoreKind = Literal["memory", "redis", "down", "cookie"]


@dataclass(frozen=True)
class AppSpec:
    """What a driver must build."""

    store: StoreKind
    config: SessionConfig
    redis_url: str = ""
    key_prefix: str = "sessionary-conformance"
    csrf: bool | CsrfOptions | None = None
    """The adapter's ``csrf=`` argument: ``None`` (its default: the origin check only; Django:
    off), ``True`` (origin and token), a ``CsrfOptions`` or ``False`` (no checks)."""
    commit_on_error: bool = False
    """The adapter's ``commit_on_error=`` option (Django: ``SESSIONARY["COMMIT_ON_ERROR"]``)."""
    tenants: Mapping[str, str] | None = None
    """The adapter's ``tenants=`` (``{host: tenant}``)."""
    lock_paths: tuple[str, ...] = ()
    """``lock=``: a function of the framework's request, true for these paths."""
    read_only_paths: tuple[str, ...] = ()
    """``store_down=``: a function of the framework's request, ``fail_open_readonly`` for
    these paths (else the configuration's policy)."""
    websocket_origins: tuple[str, ...] | None = None
    """``websocket_origins=`` (adapters that serve WebSockets)."""

    def options(self, path_of: Callable[[Any], str]) -> dict[str, Any]:
        """The adapter's keyword options; ``path_of(request)`` reads its request's path."""
        options: dict[str, Any] = {"commit_on_error": self.commit_on_error}
        if self.csrf is not None:
            options["csrf"] = self.csrf
        if self.tenants is not None:
            options["tenants"] = self.tenants
        if self.lock_paths:
            paths = self.lock_paths
            options["lock"] = lambda request: path_of(request) in paths
        if self.read_only_paths:
            read_only = self.read_only_paths
            options["store_down"] = lambda request: (
                StoreDownPolicy.FAIL_OPEN_READONLY if path_of(request) in read_only else None
            )
        if self.websocket_origins is not None:
            options["websocket_origins"] = self.websocket_origins
        return options

    def django_settings(self) -> dict[str, Any]:
        """The same options as ``SESSIONARY`` keys (``request.path`` is the path)."""
        options = self.options(lambda request: request.path)
        if self.csrf is None:
            options.pop("csrf", None)  # Django's default: sessionary's CSRF checks are off
        return {name.upper(): value for name, value in options.items()}


@dataclass(frozen=True)
class Request:
    """One request: method, path with query string, extra headers (name, value), a body."""

    method: str
    path: str
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    scheme: Literal["http", "https"] | None = None
    """Send it over this scheme (``None``: the driver's usual one; most drivers use https)."""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


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


@dataclass(frozen=True)
class WebSocketReply:
    """A WebSocket handshake's outcome: accepted (and the first message), or refused."""

    accepted: bool
    code: int | None = None
    """A refusal: the close code (ASGI) or the handshake's HTTP status (aiohttp)."""
    message: Any = None


class Driver(Protocol):
    """A running standard application behind one adapter."""

    name: str
    serves_websockets: bool
    """Whether the framework serves WebSockets (then :meth:`websocket` works)."""
    socket_origin: str
    """The ``Origin`` of a page of the application opening its WebSocket (same origin)."""

    def request(self, request: Request) -> Reply:
        """Send one request and return its reply."""
        ...

    def concurrently(self, requests: Sequence[Request]) -> list[Reply]:
        """Send all requests at once (threads or tasks) and return replies in order."""
        ...

    def websocket(self, request: Request) -> WebSocketReply:
        """Open ``WS request.path`` with the request's headers and read the first message."""
        ...


MakeDriver = Callable[[AppSpec], AbstractContextManager[Driver]]

DOWN_URL = "redis://127.0.0.1:1/0"
"""The store URL of ``spec.store == "down"``: nobody listens there."""
THREADS = 32
STEP_S = 0.05
"""The pause of ``/increment`` between its read and its write."""


class ThreadedDriver:
    """Base of the sync frameworks' drivers: ``concurrently`` runs ``request`` in threads."""

    serves_websockets = False
    socket_origin = ""

    def request(self, request: Request) -> Reply:
        """Send one request (framework specific)."""
        raise NotImplementedError

    def concurrently(self, requests: Sequence[Request]) -> list[Reply]:
        """Send all requests from a thread pool."""
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(self.request, requests))

    def websocket(self, request: Request) -> WebSocketReply:
        """WSGI serves no WebSockets."""
        raise NotImplementedError(self.websocket.__doc__)


def increment(session: Any, pause: Callable[[float], None]) -> dict[str, int]:
    """``/increment`` for sync handlers (``pause`` is ``time.sleep``)."""
    n: int = session.get("n", 0)
    pause(STEP_S)
    session["n"] = n + 1
    return {"n": n + 1}


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


def own_headers(query: Mapping[str, str]) -> dict[str, str]:
    """The headers the application sets itself: ``Cache-Control`` from ``?cache=``,
    ``Strict-Transport-Security`` from ``?sts=``."""
    headers = {"Cache-Control": query["cache"]} if "cache" in query else {}
    if "sts" in query:
        headers["Strict-Transport-Security"] = query["sts"]
    return headers


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
