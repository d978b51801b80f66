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

``flask.session`` stays a mutable mapping (with ``login``, ``logout``, ``rotate`` and
``user_id`` on top). The configuration is read from ``app.config`` unless a
:class:`~sessionary.SessionConfig` is passed:

* ``SESSIONARY_SECRET_KEYS`` (a list), else ``SECRET_KEY`` + ``SECRET_KEY_FALLBACKS``;
* ``SESSION_COOKIE_NAME`` when changed from Flask's ``"session"`` (else sessionary's
  ``__Host-session``), ``SESSION_COOKIE_DOMAIN``, ``SESSION_COOKIE_PATH``,
  ``SESSION_COOKIE_SAMESITE`` (``None`` keeps ``Lax``), ``SESSION_COOKIE_PARTITIONED``;
* ``SESSION_COOKIE_SECURE=False`` is honoured only with
  ``SESSIONARY_INSECURE_DEVELOPMENT_MODE=True`` (Flask's default is ``False``; sessionary keeps
  ``Secure`` on, which browsers accept from ``http://localhost``);
* ``PERMANENT_SESSION_LIFETIME`` is the idle timeout when changed from Flask's 31 days;
  ``SESSIONARY_IDLE_TIMEOUT`` / ``SESSIONARY_ABSOLUTE_TIMEOUT`` (seconds) set both clocks.

``session.permanent`` is accepted and ignored: sessionary's idle and absolute timeouts decide
a session's life. A store outage answers 503 (only on requests that touch the session).

``Sessionary(app, csrf=True)`` (or ``csrf=CsrfOptions(...)``) checks unsafe requests in a
``before_request`` hook: Origin / Fetch Metadata, then the token from the ``X-CSRF-Token``
header or the ``csrf_token`` form field; failures answer 403. Templates get ``csrf_token()``
(also importable from this module).

``Sessionary(app, tenants={host: tenant})`` (or a callable ``host -> tenant``) binds a
server-side tenant into every storage key and the sealed cookie's AAD; a host without a
tenant is answered 400 before any view (and before any store call).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

try:
    from flask import Flask, Request, Response, current_app, session
    from flask import request as current_request
    from flask.sessions import SessionInterface, SessionMixin
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.flask needs Flask: pip install 'sessionary[flask]'"
    raise ImportError(msg) from exc

from sessionary._sync.manager import SessionManager
from sessionary.config import CookieOptions, SessionConfig
from sessionary.exceptions import ConfigurationError, StoreUnavailableError
from sessionary.integrations._commit_errors import COMMIT_ERRORS, commit_failure
from sessionary.integrations._csrf import make_guard, origin_failure, report
from sessionary.integrations._settings import samesite_setting, seconds_setting
from sessionary.observability import Observer
from sessionary.sansio.csrf import FORBIDDEN_BODY, CsrfGuard, CsrfOptions
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.headers import header_changes
from sessionary.sansio.session import Session
from sessionary.sansio.tenants import TenantResolver
from sessionary.stores.cookie import CookieStore

if TYPE_CHECKING:
    from sessionary.stores.base import Store

__all__ = ["FlaskSession", "Sessionary", "SessionaryInterface", "config_from_flask", "csrf_token"]

_FLASK_DEFAULT_LIFETIME = timedelta(days=31)
_EXTENSION = "sessionary"


class FlaskSession(SessionMixin):
    """``flask.session``: a thin view over the request's :class:`sessionary.Session`."""

    def __init__(self, cycle: SessionCycle, *, unknown_host: bool = False) -> None:
        self.cycle = cycle
        self.session: Session = cycle.session
        self.unknown_host = unknown_host
        """The host resolves to no tenant: the request is answered 400 before any view."""

    # -- mapping
    def __getitem__(self, key: str) -> Any:
        return self.session[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.session[key] = value

    def __delitem__(self, key: str) -> None:
        del self.session[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.session)

    def __len__(self) -> int:
        return len(self.session)

    def __contains__(self, key: object) -> bool:
        return key in self.session

    def get(self, key: str, default: Any = None) -> Any:
        """``session.get(key, default)``."""
        return self.session.get(key, default)

    def clear(self) -> None:
        """Remove every attribute (the session itself stays; see :meth:`logout`)."""
        self.session.clear()

    # -- Flask's SessionMixin
    @property
    def permanent(self) -> bool:
        """Accepted for Flask compatibility; sessionary's timeouts decide the lifetime."""
        return True

    @permanent.setter
    def permanent(self, value: bool) -> None:
        pass

    @property
    def new(self) -> bool:  # type: ignore[override]
        """Whether the session did not exist before this request."""
        return self.session.is_new

    @property
    def modified(self) -> bool:
        """Whether this request changed the session.

        Setting it (Flask's idiom after mutating a nested value) is accepted and not needed:
        nested changes are detected at commit by comparing encoded values.
        """
        return self.session.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        pass

    @property
    def accessed(self) -> bool:
        """Whether this request read or wrote the session (Flask sets it; tracked here)."""
        return self.session.accessed

    @accessed.setter
    def accessed(self, value: bool) -> None:
        if value:
            self.session.mark_accessed()

    # -- sessionary's lifecycle
    @property
    def user_id(self) -> str | None:
        """The signed-in user, or ``None``."""
        return self.session.user_id

    def login(self, user_id: str | int) -> None:
        """Sign ``user_id`` in: rotates the session ID (keeps the data)."""
        self.session.login(user_id)

    def logout(self) -> None:
        """End the session: deleted from the store, cookie cleared."""
        self.session.logout()

    def rotate(self) -> None:
        """Issue a new ID for the same session (after a privilege change)."""
        self.session.rotate()


def config_from_flask(app: Flask) -> SessionConfig:
    """Map Flask's session settings onto a :class:`~sessionary.SessionConfig`."""
    conf = app.config
    keys = conf.get("SESSIONARY_SECRET_KEYS")
    if keys is None:
        if not conf.get("SECRET_KEY"):
            msg = "set SECRET_KEY (or SESSIONARY_SECRET_KEYS) to use sessionary with Flask"
            raise ConfigurationError(msg)
        keys = [conf["SECRET_KEY"], *(conf.get("SECRET_KEY_FALLBACKS") or [])]
    name = conf.get("SESSION_COOKIE_NAME", "session")
    insecure = bool(conf.get("SESSIONARY_INSECURE_DEVELOPMENT_MODE", False))
    cookie = CookieOptions(
        name="__Host-session" if name == "session" else name,
        domain=conf.get("SESSION_COOKIE_DOMAIN") or None,
        path=conf.get("SESSION_COOKIE_PATH") or "/",
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

    def __init__(self, manager: SessionManager, tenants: TenantResolver | None = None) -> None:
        self.manager = manager
        self.tenants = tenants

    def open_session(self, app: Flask, request: Request) -> FlaskSession:
        """Read the ID and load the session (at most one store round trip)."""
        tenant = ""
        if self.tenants is not None:
            resolved = self.tenants.resolve(request.host)
            if resolved is None:  # no tenant for this host: an empty session, no store call
                cycle = self.manager.open([], client=request.remote_addr)
                return FlaskSession(cycle, unknown_host=True)
            tenant = resolved
        header = self.manager.request_header
        tokens = request.headers.getlist(header) if header is not None else ()
        cycle = self.manager.open(
            request.headers.getlist("Cookie"),
            client=request.remote_addr,
            token_headers=tokens,
            user_agent=request.headers.get("User-Agent"),
            tenant=tenant,
        )
        return FlaskSession(cycle)

    def is_null_session(self, obj: object) -> bool:
        """Sessionary has no null sessions."""
        return False

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Commit before the response leaves, then add the cookie headers."""
        if not isinstance(session, FlaskSession):
            return
        try:
            update = self.manager.commit(session.cycle)
        except COMMIT_ERRORS as error:
            _replace_with_error(response, *commit_failure(error))
            return
        changes = header_changes(update, response.headers.get("Vary"))
        for name, value in changes.replace.items():
            response.headers[name] = value
        for name, value in changes.append:
            response.headers.add(name, value)


def _guard() -> CsrfGuard:
    extension = current_app.extensions.get(_EXTENSION)
    guard = extension.csrf if isinstance(extension, Sessionary) else None
    if guard is None:
        msg = "CSRF protection is off: use Sessionary(app, csrf=True)"
        raise ConfigurationError(msg)
    return guard


def _cycle() -> SessionCycle:
    if not isinstance(session, FlaskSession):
        msg = "flask.session is not a sessionary session: is Sessionary installed?"
        raise ConfigurationError(msg)
    return session.cycle


def csrf_token() -> str:
    """A masked CSRF token for this response (``Sessionary(app, csrf=True)``)."""
    return _guard().token(_cycle())


def _check_host() -> Response | None:
    """``before_request``: a host that resolves to no tenant is answered 400."""
    if isinstance(session, FlaskSession) and session.unknown_host:
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
    """The Flask extension: ``Sessionary(app, store=...)`` or ``ext.init_app(app)``."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        store: Store | CookieStore | None = None,
        config: SessionConfig | None = None,
        observer: Observer | None = None,
        csrf: CsrfOptions | bool | None = None,
        tenants: Mapping[str, str] | Callable[[str], str | None] | None = None,
    ) -> None:
        self.store = store
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
        app.session_interface = SessionaryInterface(manager, self.tenants)
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
