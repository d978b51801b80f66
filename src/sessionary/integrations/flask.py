"""Flask: ``flask.session`` backed by sessionary (needs ``pip install 'sessionary[flask]'``).

::

    from flask import Flask, session
    from sessionary.integrations.flask import Sessionary
    from sessionary.stores import RedisStore

    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ["SESSION_SECRET"]
    Sessionary(app, store=RedisStore.from_url("redis://localhost:6379/0"))

    @app.post("/login")
    def login():
        session.login("42")   # rotates the ID; session.logout() ends it everywhere
        ...

``flask.session`` is the request's :class:`~sessionary.Session`, a ``dict`` like Flask's own
session (with ``login``, ``logout``, ``rotate`` and ``user_id`` on top). The configuration is
read from ``app.config`` unless a :class:`~sessionary.SessionConfig` is passed:

* ``SESSIONARY_SECRET_KEYS`` (a list), else ``SECRET_KEY`` + ``SECRET_KEY_FALLBACKS``;
* ``SESSION_COOKIE_NAME`` when changed from Flask's ``"session"`` (else sessionary's
  ``__Host-session``, a cookie for the whole host), ``SESSION_COOKIE_DOMAIN``,
  ``SESSION_COOKIE_PATH`` (else ``APPLICATION_ROOT``, as Flask does, for names without the
  ``__Host-`` prefix), ``SESSION_COOKIE_SAMESITE`` (``None`` keeps ``Lax``),
  ``SESSION_COOKIE_PARTITIONED``; ``SESSION_COOKIE_HTTPONLY = False`` is refused;
* ``SESSION_COOKIE_SECURE=False`` is honoured only with
  ``SESSIONARY_INSECURE_DEVELOPMENT_MODE=True`` (Flask's default is ``False``; sessionary keeps
  ``Secure`` on, which browsers accept from ``http://localhost``);
* ``PERMANENT_SESSION_LIFETIME`` is the idle timeout when changed from Flask's 31 days;
  ``SESSIONARY_IDLE_TIMEOUT`` / ``SESSIONARY_ABSOLUTE_TIMEOUT`` (seconds) set both clocks.

``session.permanent`` is accepted and ignored, and ``SESSION_REFRESH_EACH_REQUEST`` does not
apply: sessionary keeps expiry on the server (the idle timeout slides as the session is read,
the cookie's ``Max-Age`` is the absolute deadline no request extends), the same for every
session. A store outage answers 503 (only on requests that touch the session).

A failed request (a 5xx, Flask's 500 for an exception) commits only a logout or an explicit
rotation; ``Sessionary(app, commit_on_error=True)`` (or ``SESSIONARY_COMMIT_ON_ERROR``)
commits it like a successful one. A ``logout()`` in a streamed body (``stream_with_context``)
ends the stored session when the response is closed.

``Sessionary(app, csrf=True)`` (or ``csrf=CsrfOptions(...)``) checks unsafe requests in a
``before_request`` hook: Origin / Fetch Metadata, then the token from the ``X-CSRF-Token``
header or the ``csrf_token`` form field; failures answer 403. Templates get ``csrf_token()``
(also importable from this module).

``Sessionary(app, tenants={host: tenant})`` (or a callable ``host -> tenant``) binds a
server-side tenant into every storage key and the sealed cookie's AAD; a host without a
tenant is answered 400 before any view (and before any store call).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

try:
    from flask import Flask, Request, Response, current_app
    from flask import request as current_request
    from flask.sessions import SessionInterface, SessionMixin
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.flask needs Flask: pip install 'sessionary[flask]'"
    raise ImportError(msg) from exc

from sessionary._sync.manager import SessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError, SessionaryError, StoreUnavailableError
from sessionary.integrations._commit_errors import COMMIT_ERRORS, commit_failure, failed
from sessionary.integrations._csrf import make_guard, origin_failure, report
from sessionary.integrations._settings import cookie_setting, samesite_setting, seconds_setting
from sessionary.observability import Observer
from sessionary.sansio.csrf import FORBIDDEN_BODY, CsrfGuard, CsrfOptions
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.headers import header_changes
from sessionary.sansio.session import Session
from sessionary.sansio.tenants import TenantResolver
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from sessionary.stores.base import SessionStore

__all__ = ["FlaskSession", "Sessionary", "SessionaryInterface", "config_from_flask", "csrf_token"]

_FLASK_DEFAULT_LIFETIME = timedelta(days=31)
_EXTENSION = "sessionary"
_STATE_KEY = "sessionary.flask"


class _RequestState:
    """What sessionary keeps per request (in ``request.environ``): the cycle and its state."""

    __slots__ = ("committed", "cycle", "unknown_host")

    def __init__(self, cycle: SessionCycle, unknown_host: bool) -> None:
        self.cycle = cycle
        self.unknown_host = unknown_host
        self.committed = False


def _request_state() -> _RequestState:
    state = current_request.environ.get(_STATE_KEY)
    if not isinstance(state, _RequestState):
        msg = "flask.session is not a sessionary session: is Sessionary installed?"
        raise ConfigurationError(msg)
    return state


class FlaskSession(Session):
    """``flask.session``: the request's :class:`sessionary.Session` itself, for Flask.

    A ``dict`` like Flask's own session (``return dict(session)``, ``session |= {...}``,
    ``json.dumps(session._get_current_object())`` all behave as on Flask's), with Flask's
    session attributes (``new``, ``modified``, ``accessed``, ``permanent``) and sessionary's
    lifecycle (``login``, ``logout``, ``rotate``, ``user_id``...) on top.
    """

    __slots__ = ()  # the layout of Session: the request's session object is re-classed

    @property
    def session(self) -> Session:
        """The sessionary session (this object; kept for code written for older versions)."""
        return self

    @property
    def cycle(self) -> SessionCycle:
        """The request's session cycle (inside a request)."""
        return _request_state().cycle

    @property
    def permanent(self) -> bool:
        """Accepted for Flask compatibility; sessionary's timeouts decide the lifetime.

        The cookie is persistent (``Max-Age``: the session's remaining absolute lifetime)
        unless ``CookieOptions(persistent=False)`` makes every session cookie a browser
        session cookie; one session cannot differ from the others.
        """
        return True

    @permanent.setter
    def permanent(self, value: bool) -> None:
        pass

    @property
    def new(self) -> bool:
        """Whether the session did not exist before this request."""
        return self.is_new

    @property
    def modified(self) -> bool:
        """Whether this request changed the session.

        Setting it (Flask's idiom after mutating a nested value) is accepted and not needed:
        nested changes are detected at commit by comparing encoded values.
        """
        return Session.modified.fget(self)  # type: ignore[attr-defined,no-any-return]

    @modified.setter
    def modified(self, value: bool) -> None:
        pass

    @property
    def accessed(self) -> bool:
        """Whether this request read or wrote the session (Flask sets it; tracked here)."""
        return Session.accessed.fget(self)  # type: ignore[attr-defined,no-any-return]

    @accessed.setter
    def accessed(self, value: bool) -> None:
        if value:
            self.mark_accessed()


SessionMixin.register(FlaskSession)


def _flask_session(cycle: SessionCycle) -> FlaskSession:
    session = cycle.session
    # Same memory layout (FlaskSession adds no slots): the session the cycle commits is the
    # very object Flask hands out, so nothing is copied back and forth.
    session.__class__ = FlaskSession
    assert isinstance(session, FlaskSession)
    return session


def config_from_flask(app: Flask) -> SessionConfig:
    """Map Flask's session settings onto a :class:`~sessionary.SessionConfig`."""
    conf = app.config
    keys = conf.get("SESSIONARY_SECRET_KEYS")
    if keys is None:
        if not conf.get("SECRET_KEY"):
            msg = "set SECRET_KEY (or SESSIONARY_SECRET_KEYS) to use sessionary with Flask"
            raise ConfigurationError(msg)
        keys = [conf["SECRET_KEY"], *(conf.get("SECRET_KEY_FALLBACKS") or [])]
    if not conf.get("SESSION_COOKIE_HTTPONLY", True):
        msg = "SESSION_COOKIE_HTTPONLY = False is not supported: the session ID stays HttpOnly"
        raise ConfigurationError(msg)
    configured = conf.get("SESSION_COOKIE_NAME", "session")
    name = "__Host-session" if configured == "session" else configured
    path = conf.get("SESSION_COOKIE_PATH")
    if not path:  # Flask's fallback; a '__Host-' cookie is always for the whole host
        path = "/" if name.startswith("__Host-") else conf.get("APPLICATION_ROOT") or "/"
    insecure = bool(conf.get("SESSIONARY_INSECURE_DEVELOPMENT_MODE", False))
    cookie = cookie_setting(
        name=name,
        domain=conf.get("SESSION_COOKIE_DOMAIN") or None,
        path=path,
        secure=bool(conf.get("SESSION_COOKIE_SECURE")) or not insecure,
        samesite=samesite_setting(conf.get("SESSION_COOKIE_SAMESITE")),
        partitioned=bool(conf.get("SESSION_COOKIE_PARTITIONED", False)),
        insecure_development_mode=insecure,
    )
    options: dict[str, Any] = {}
    lifetime = conf.get("PERMANENT_SESSION_LIFETIME", _FLASK_DEFAULT_LIFETIME)
    if lifetime != _FLASK_DEFAULT_LIFETIME:
        idle = seconds_setting(lifetime, "PERMANENT_SESSION_LIFETIME")
        options["idle_timeout"] = idle
        options["absolute_timeout"] = max(idle, 12 * 3600)
    if "SESSIONARY_IDLE_TIMEOUT" in conf:
        options["idle_timeout"] = seconds_setting(conf["SESSIONARY_IDLE_TIMEOUT"], "idle timeout")
    if "SESSIONARY_ABSOLUTE_TIMEOUT" in conf:
        absolute = seconds_setting(conf["SESSIONARY_ABSOLUTE_TIMEOUT"], "absolute timeout")
        options["absolute_timeout"] = absolute
    return SessionConfig(secret_keys=keys, cookie=cookie, **options)


class SessionaryInterface(SessionInterface):
    """Flask's session interface, driving sessionary's sync manager."""

    def __init__(
        self,
        manager: SessionManager,
        tenants: TenantResolver | None = None,
        *,
        commit_on_error: bool = False,
    ) -> None:
        self.manager = manager
        self.tenants = tenants
        self.commit_on_error = commit_on_error
        """Commit a failed request's changes too (default: only a logout or rotation)."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin:
        """Read the ID and load the session (at most one store round trip).

        Returns the :class:`FlaskSession` (a ``SessionMixin`` by registration).
        """
        tenant = ""
        unknown_host = False
        if self.tenants is not None:
            resolved = self.tenants.resolve(request.host)
            unknown_host = resolved is None
            tenant = resolved or ""
        header = self.manager.request_header
        if unknown_host:  # no tenant for this host: an empty session, no store call
            cycle = self.manager.open([], client=request.remote_addr)
        else:
            cycle = self.manager.open(
                request.headers.getlist("Cookie"),
                client=request.remote_addr,
                token_headers=request.headers.getlist(header) if header is not None else (),
                user_agent=request.headers.get("User-Agent"),
                tenant=tenant,
            )
        request.environ[_STATE_KEY] = _RequestState(cycle, unknown_host)
        return cast(SessionMixin, _flask_session(cycle))

    def is_null_session(self, obj: object) -> bool:
        """Sessionary has no null sessions."""
        return False

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Commit before the response leaves, then add the cookie headers.

        Once per request: Flask calls this again for the error response when the first
        call raised (a session over ``max_size``), and that error is the one to report.
        A 5xx response is a failed request (only a logout or rotation is committed). A
        ``logout()`` made while a streamed body is sent ends the session once it is closed.
        """
        state = current_request.environ.get(_STATE_KEY)
        if not isinstance(state, _RequestState) or state.committed:
            return
        state.committed = True
        cycle = state.cycle
        response.call_on_close(partial(self.manager.after_response, cycle))
        try:
            update = self.manager.commit(
                cycle, failed=failed(response.status_code, self.commit_on_error)
            )
        except COMMIT_ERRORS as error:
            _replace_with_error(response, *commit_failure(error))
            return
        changes = header_changes(update, response.headers.get("Vary"))
        for name, value in changes.replace.items():
            response.headers[name] = value
        for name, value in changes.append:
            response.headers.add(name, value)

    def request_ended(self, error: BaseException | None) -> None:
        """``teardown_request``: a request Flask let an exception escape was never saved.

        (``PROPAGATE_EXCEPTIONS``, e.g. in tests.) It failed: a logout or rotation is still
        committed, without a response to carry the cookie.
        """
        state = current_request.environ.get(_STATE_KEY)
        if not isinstance(state, _RequestState) or state.committed:
            return
        state.committed = True
        with suppress(SessionaryError):  # the application's own error is the one to report
            self.manager.commit(state.cycle, failed=not self.commit_on_error)


def _guard() -> CsrfGuard:
    extension = current_app.extensions.get(_EXTENSION)
    guard = extension.csrf if isinstance(extension, Sessionary) else None
    if guard is None:
        msg = "CSRF protection is off: use Sessionary(app, csrf=True)"
        raise ConfigurationError(msg)
    return guard


def _cycle() -> SessionCycle:
    return _request_state().cycle


def csrf_token() -> str:
    """A masked CSRF token for this response (``Sessionary(app, csrf=True)``)."""
    return _guard().token(_cycle())


def _check_host() -> Response | None:
    """``before_request``: a host that resolves to no tenant is answered 400."""
    state = current_request.environ.get(_STATE_KEY)
    if isinstance(state, _RequestState) and state.unknown_host:
        headers = {"Content-Type": "text/plain", "Cache-Control": "no-store"}
        return Response(b"Bad Request", 400, headers)
    return None


def _check_csrf() -> Response | None:
    """``before_request``: refuse unsafe requests failing the origin or token check."""
    guard = _guard()
    request = current_request
    method = request.method
    if not guard.is_unsafe(method):
        return None
    failure = origin_failure(guard, method, request.scheme, request.headers.get)
    if failure is None and guard.options.require_token:
        options = guard.options
        presented = request.headers.get(options.header_name)
        if presented is None and request.mimetype in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            presented = request.form.get(options.field_name)
        failure = guard.check_token(_cycle(), presented)
    if failure is None:
        return None
    extension = current_app.extensions[_EXTENSION]
    manager = current_app.session_interface.manager  # type: ignore[attr-defined]
    report(manager.observer, manager.core, failure, method, request.remote_addr)
    del extension
    return Response(
        FORBIDDEN_BODY, 403, {"Content-Type": "text/plain", "Cache-Control": "no-store"}
    )


def _replace_with_error(response: Response, status: int, text: str) -> None:
    response.status_code = status
    response.set_data(text)
    response.headers.remove("Set-Cookie")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"


def _unavailable(error: StoreUnavailableError) -> tuple[str, int, dict[str, str]]:
    return "Service Unavailable", 503, {"Cache-Control": "no-store"}


class Sessionary:
    """The Flask extension: ``Sessionary(app, store=...)`` or ``ext.init_app(app)``.

    ``commit_on_error=True`` commits a failed request (a 5xx) like a successful one; by
    default only its logout or rotation is. ``None`` reads ``SESSIONARY_COMMIT_ON_ERROR``
    from ``app.config`` (default ``False``).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        store: SessionStore | CookieStore | None = None,
        config: SessionConfig | None = None,
        observer: Observer | None = None,
        csrf: CsrfOptions | bool | None = None,
        tenants: Mapping[str, str] | Callable[[str], str | None] | None = None,
        commit_on_error: bool | None = None,
    ) -> None:
        self.store = store
        self.commit_on_error = commit_on_error
        self.config = config
        self.observer = observer
        self.csrf_options = csrf
        self.tenants = TenantResolver(tenants) if tenants is not None else None
        self.csrf: CsrfGuard | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install sessionary as ``app.session_interface`` and register the 503 handler."""
        store = self.store
        if store is None:
            from sessionary._sync.memory import MemoryStore  # noqa: PLC0415

            store = self.store = MemoryStore()
        config = self.config or config_from_flask(app)
        manager = SessionManager(store, config, observer=self.observer)
        commit_on_error = self.commit_on_error
        if commit_on_error is None:
            commit_on_error = bool(app.config.get("SESSIONARY_COMMIT_ON_ERROR", False))
        interface = SessionaryInterface(manager, self.tenants, commit_on_error=commit_on_error)
        app.session_interface = interface
        app.teardown_request(interface.request_ended)
        app.register_error_handler(StoreUnavailableError, _unavailable)
        app.extensions[_EXTENSION] = self
        if self.tenants is not None:
            app.before_request(_check_host)
        self.csrf = make_guard(manager.core, self.csrf_options)
        if self.csrf is not None:
            app.before_request(_check_csrf)
            app.jinja_env.globals["csrf_token"] = csrf_token

    def close(self) -> None:
        """Close the store (call at process shutdown)."""
        if self.store is not None:
            self.store.close()
