"""The request gate: what every adapter decides before a session is loaded, in one place.

An adapter translates its framework's request into a :class:`RequestInfo` and asks its
mount's :class:`Gate` (built once from the adapter's options) for one decision:

* :class:`Refuse` — answer ``status`` with ``body`` and nothing else (a WebSocket handshake
  is closed with :attr:`Refuse.close_code` instead), after reporting :attr:`Refuse.event`:
  a host that resolves to no tenant (400, before any session work), an unsafe request that
  fails the Origin / ``Sec-Fetch-Site`` check (403, R72), a WebSocket handshake from a
  foreign ``Origin`` (cross-site WebSocket hijacking rides on the cookie);
* :class:`NeedForm` — the CSRF token may be in a URL-encoded (or multipart) form: read that
  field (at most :attr:`NeedForm.limit` bytes) and ask again with
  :meth:`RequestInfo.with_form`;
* :class:`Open` — open the session for :attr:`Open.tenant`, taking the per-session lock when
  :attr:`Open.lock`, with the store-down policy :attr:`Open.store_down`; once it is loaded,
  :meth:`Gate.check` verifies the CSRF token (a refusal then releases the lock).

Whatever the decision, :meth:`Gate.strict_transport_for` names the
``Strict-Transport-Security`` value (``SessionConfig.strict_transport_security``) an adapter
adds to the response of an HTTPS request.

``manager.admit(gate, info, request)`` runs exactly this and ``manager.settle(...)`` applies
the commit rules (:mod:`sessionary.sansio.settle`), so each adapter is a translation.
``request`` is the framework's own request object (an ASGI scope, a WSGI environ, a Flask,
aiohttp or Django request): the ``lock=`` and ``store_down=`` callables receive it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypedDict

from sessionary.config import StoreDownPolicy
from sessionary.exceptions import ConfigurationError, StoreUnavailableError
from sessionary.sansio.core import SessionCore
from sessionary.sansio.csrf import ORIGIN_ONLY, CsrfBound, CsrfFailure, CsrfGuard, CsrfOptions
from sessionary.sansio.events import SessionEvent
from sessionary.sansio.settle import FAILED, OUTAGE, REASONS, SUCCEEDED, Settlement
from sessionary.sansio.tenants import TenantResolver

__all__ = [
    "POLICY_VIOLATION",
    "Decision",
    "Gate",
    "GateOptions",
    "NeedForm",
    "Open",
    "Refuse",
    "RequestInfo",
    "WebSocketGateOptions",
    "make_guard",
]

POLICY_VIOLATION = 1008
"""The WebSocket close code of a refused handshake."""
_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"

Headers = Mapping[str, str] | Callable[[str], str | None]
"""A request's headers: a mapping of lower-case names, or a getter taking a lower-case name."""
LockChoice = bool | Callable[[Any], bool]
"""``lock=``: every request, or a function of the framework's request object."""
StoreDownChoice = StoreDownPolicy | str | Callable[[Any], StoreDownPolicy | str | None]
"""``store_down=``: one policy, or a function choosing one per request (``None``: config's)."""
TenantSource = Mapping[str, str] | Callable[[str], str | None]


class GateOptions(TypedDict, total=False):
    """The request options every adapter takes, by these names.

    Django reads them from ``SESSIONARY`` (the names in upper case); Flask also from
    ``app.config`` (``SESSIONARY_<NAME>``).
    """

    csrf: CsrfOptions | bool | None
    """``None`` (default): the Origin / ``Sec-Fetch-Site`` check; ``True``: and the token;
    a :class:`~sessionary.sansio.csrf.CsrfOptions`; ``False``: no checks."""
    tenants: TenantSource | TenantResolver | None
    """``{host: tenant}`` or ``host -> tenant``: a host without a tenant is answered 400."""
    lock: LockChoice | None
    """Take the per-session lock: always, or when a function of the request says so."""
    store_down: StoreDownChoice | None
    """The store-down policy: one, or chosen per request (``None``: the config's)."""
    commit_on_error: bool | None
    """Commit a failed request's changes too (default: only a logout or a rotation)."""


class WebSocketGateOptions(GateOptions, total=False):
    """The options of adapters that serve WebSockets (ASGI, aiohttp)."""

    websocket_origins: Iterable[str] | None
    """Origins allowed to open a WebSocket besides the request's own ``Host``."""


def _no_headers(name: str) -> str | None:
    return None


class RequestInfo(NamedTuple):
    """What the gate and the session cycle need from one request, framework-neutral.

    ``cookies`` are the ``Cookie`` header values (one per header line); ``tokens`` the values
    of the header transport's request header (``Gate.token_header``); ``headers`` answers
    other headers by lower-case name. Its ``repr`` shows no header value (R79).

    A named tuple rather than a frozen dataclass: every request builds one, and a tuple is
    built in one step where a frozen dataclass sets each of its fields through
    ``object.__setattr__`` (measured in docs/benchmarks.md).
    """

    method: str = "GET"
    scheme: str = "http"
    host: str | None = None
    headers: Headers = _no_headers
    client: str | None = None
    cookies: Sequence[str] = ()
    tokens: Sequence[str] = ()
    user_agent: str | None = None
    content_type: str | None = None
    websocket: bool = False
    """A WebSocket handshake (ASGI ``websocket`` scope, or ``Upgrade: websocket``)."""
    path: str = "/"
    form_token: str | None = None
    form_read: bool = False
    """The form was read for the token (:class:`NeedForm`): ``form_token`` is its field."""

    def __repr__(self) -> str:
        # No header, cookie, token or form value (R79).
        return (
            f"RequestInfo(method={self.method!r}, scheme={self.scheme!r}, host={self.host!r}, "
            f"client={self.client!r}, user_agent={self.user_agent!r}, "
            f"content_type={self.content_type!r}, websocket={self.websocket!r}, "
            f"path={self.path!r}, form_read={self.form_read!r})"
        )

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or ``None``."""
        headers = self.headers
        return headers.get(name) if isinstance(headers, Mapping) else headers(name)

    def with_form(self, token: str | None) -> RequestInfo:
        """This request, with the token field of its form (``None``: not there)."""
        return self._replace(form_token=token, form_read=True)


@dataclass(frozen=True, slots=True)
class Refuse:
    """Answer ``status`` with ``body`` (no session work, no cookie); report ``event``."""

    status: int
    body: bytes
    event: SessionEvent | None = None
    close_code: int | None = None
    """For a WebSocket handshake: close with this code instead of answering ``status``."""


@dataclass(frozen=True, slots=True)
class NeedForm:
    """Read the form field ``field`` (at most ``limit`` body bytes), then decide again."""

    field: str
    limit: int


@dataclass(frozen=True, slots=True)
class Open:
    """Open the request's session: for ``tenant``, locked or not, with a store-down policy."""

    tenant: str = ""
    lock: bool = False
    store_down: StoreDownPolicy | None = None
    """``None``: the configuration's policy."""
    check_token: bool = False
    """Once loaded, the session must match ``token`` (:meth:`Gate.check`)."""
    token: str | None = field(default=None, repr=False)


Decision = Refuse | NeedForm | Open


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


def _policy(value: StoreDownPolicy | str) -> StoreDownPolicy:
    try:
        return StoreDownPolicy(value)
    except ValueError:
        msg = f"unknown store_down policy {value!r}"
        raise ConfigurationError(msg) from None


def _store_down_chooser(choice: StoreDownChoice | None) -> Callable[[Any], StoreDownPolicy | None]:
    """Normalise ``store_down=`` into a function of the request (``None``: the config's)."""
    if choice is None:
        return lambda request: None
    if isinstance(choice, StoreDownPolicy | str):
        fixed = _policy(choice)
        return lambda request: fixed
    if not callable(choice):
        msg = "store_down must be a StoreDownPolicy, its name, or a function of the request"
        raise ConfigurationError(msg)

    def per_request(request: Any) -> StoreDownPolicy | None:
        chosen = choice(request)
        return None if chosen is None else _policy(chosen)

    return per_request


def _lock_chooser(choice: LockChoice | None) -> Callable[[Any], bool]:
    if choice is None or isinstance(choice, bool):
        fixed = bool(choice)
        return lambda request: fixed
    if not callable(choice):
        msg = "lock must be a bool or a function of the request"
        raise ConfigurationError(msg)
    return lambda request: bool(choice(request))


class Gate:
    """One mount's request policy: tenants, CSRF, WebSocket origins, lock, store-down, errors.

    Built once by an adapter from its options (named alike in every adapter); pure.
    ``multipart``: the adapter reads multipart forms itself (Flask, aiohttp, Django), so a
    token may come from a multipart field too.
    """

    __slots__ = (
        "_lock",
        "_plain",
        "_store_down",
        "_tenants",
        "_websocket_origins",
        "commit_on_error",
        "core",
        "csrf",
        "multipart",
        "strict_transport",
        "token_header",
    )

    def __init__(
        self,
        core: SessionCore,
        *,
        csrf: CsrfOptions | bool | None = None,
        tenants: TenantSource | TenantResolver | None = None,
        lock: LockChoice | None = None,
        store_down: StoreDownChoice | None = None,
        websocket_origins: Iterable[str] | None = None,
        commit_on_error: bool | None = False,
        multipart: bool = False,
    ) -> None:
        self.core = core
        self.csrf = make_guard(core, csrf)
        """The CSRF guard (``None``: ``csrf=False``)."""
        if tenants is not None and not isinstance(tenants, TenantResolver):
            tenants = TenantResolver(tenants)
        self._tenants = tenants
        self._lock = _lock_chooser(lock)
        self._store_down = _store_down_chooser(store_down)
        self._plain = (
            Open("", self._lock(None), self._store_down(None))
            if not callable(lock) and not callable(store_down)
            else None
        )
        """The decision for most requests (no tenant, no token, fixed lock and policy)."""
        self._websocket_origins = (
            None
            if websocket_origins is None
            else frozenset(o.rstrip("/") for o in websocket_origins)
        )
        self.commit_on_error = bool(commit_on_error)
        """Commit a failed request's changes too (default: only a logout or rotation)."""
        self.multipart = multipart
        self.token_header = core.request_header
        """Header transport: the lower-case request header whose values are ``tokens``."""
        self.strict_transport = core.config.strict_transport_security
        """``SessionConfig.strict_transport_security`` (``None``: adapters add nothing)."""

    # ------------------------------------------------------------------ the decision
    def opens_blind(self, method: str) -> bool:
        """Whether an HTTP request with ``method`` is opened whatever its headers say.

        ``True`` without tenants to resolve and without an origin check for ``method`` (a
        safe method, or ``csrf=False``): :meth:`decide` would answer :class:`Open` with no
        token to check, so an adapter may skip reading the headers of such a request that
        presents no session ID (its session is new and empty, no store call either way).
        """
        if self._tenants is not None:
            return False
        guard = self.csrf
        return guard is None or not guard.is_unsafe(method)

    def strict_transport_for(self, scheme: str) -> str | None:
        """The ``Strict-Transport-Security`` value for every response to a ``scheme`` request.

        Only over HTTPS: a host must not send it over plain HTTP (RFC 6797 section 7.2), and a
        browser ignores it there. The scheme is the one the server reports, so behind a
        TLS-terminating proxy it is ``https`` only where the server trusts that proxy's
        ``X-Forwarded-Proto`` (docs/deploy.md). Adapters add the value where the application
        set no ``Strict-Transport-Security`` of its own, refusals and errors included.
        """
        return self.strict_transport if scheme == "https" else None

    def decide(self, info: RequestInfo, request: object = None) -> Decision:
        """The one decision for a request, before any session work (see the module doc)."""
        tenant = ""
        if self._tenants is not None:
            resolved = self._tenants.resolve(info.host)
            if resolved is None:  # a host no tenant is configured for: no session at all
                return self._refuse(info, 400)
            tenant = resolved
        if info.websocket:
            if not self._websocket_origin_allowed(info):
                return self._refuse(info, 403)
            return Open(tenant, self._lock(request), self._store_down(request))
        guard = self.csrf
        check, token = False, None
        if guard is not None and guard.is_unsafe(info.method):
            failure = guard.check_origin(
                info.method,
                scheme=info.scheme,
                host=info.host,
                origin=info.header("origin"),
                referer=info.header("referer"),
                fetch_site=info.header("sec-fetch-site"),
            )
            if failure is not None:
                return self._refuse(info, 403, failure)
            options = guard.options
            if options.require_token:
                check, token = True, info.header(options.header_name.lower())
                if token is None and info.form_read:
                    token = info.form_token
                elif token is None and self._is_form(info.content_type):
                    return NeedForm(options.field_name, options.max_form_bytes)
        plain = self._plain
        if plain is None or check or tenant:
            plain = Open(tenant, self._lock(request), self._store_down(request), check, token)
        return plain

    def check(self, opened: Open, session: CsrfBound, info: RequestInfo) -> Refuse | None:
        """After the load: the CSRF token ``opened`` carries against the session (403)."""
        guard = self.csrf
        if not opened.check_token or guard is None:
            return None
        failure = guard.check_token(session, opened.token)
        return None if failure is None else self._refuse(info, 403, failure)

    def busy(self, info: RequestInfo) -> Refuse:
        """The session's lock stayed busy for ``lock_wait``: 409."""
        return self._refuse(info, 409)

    def settlement(
        self, *, status: int | None = None, error: BaseException | None = None, refused: bool
    ) -> Settlement:
        """The commit rules for a response starting with ``status``, or a handler's ``error``.

        ``status is None``: no response came, the handler raised ``error`` (``None``: an
        error the adapter did not see). ``refused``: the handler touched a session the store
        could not load (:attr:`Session.refused`).
        """
        coe = self.commit_on_error
        if status is None:
            outage = isinstance(error, StoreUnavailableError)
            return Settlement(not coe, refuse=error if outage else None, outage=outage, raised=True)
        if status == 500 and refused:  # the framework turned the load error into its 500
            return OUTAGE
        return FAILED if status >= 500 and not coe else SUCCEEDED

    # ------------------------------------------------------------------ helpers
    def _refuse(self, info: RequestInfo, status: int, failure: CsrfFailure | None = None) -> Refuse:
        event = None
        if failure is not None:
            now = self.core.now_ms()
            event = CsrfGuard.failure_event(
                failure, now_ms=now, method=info.method, client=info.client
            )
        close = POLICY_VIOLATION if info.websocket else None
        return Refuse(status, REASONS[status], event, close)

    def _is_form(self, content_type: str | None) -> bool:
        if content_type is None:
            return False
        kind = content_type.split(";", 1)[0].strip().lower()
        return kind == _URLENCODED or (self.multipart and kind == _MULTIPART)

    def _websocket_origin_allowed(self, info: RequestInfo) -> bool:
        """By default the ``Origin`` must be the ``Host`` the client connected to."""
        origin = info.header("origin")
        if origin is None:  # not a browser: not subject to the check
            return True
        if self._websocket_origins is not None:
            return origin.rstrip("/") in self._websocket_origins
        scheme = {"ws": "http", "wss": "https"}.get(info.scheme, info.scheme)
        return info.host is not None and origin == f"{scheme}://{info.host}"
