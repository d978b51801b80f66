"""Django settings → sessionary: the configuration, the stores and the two managers.

Read from ``settings.SESSIONARY`` (a dict, every key optional) and Django's ``SESSION_*``:

=============================  ===============================================================
``SECRET_KEYS``                key ring, newest first (default: ``SECRET_KEY`` followed by
                               ``SECRET_KEY_FALLBACKS``)
``STORE_URL``                  ``"memory"`` (default) or a ``redis://``/``rediss://``/``unix://``
                               URL; ``PREFIX`` is the Redis key prefix (default ``sessionary``)
``STORE`` / ``ASYNC_STORE``    store instances instead of ``STORE_URL`` (a memory store's twin
                               is derived; give both for Redis when serving ASGI and WSGI)
``IDLE_TIMEOUT``               seconds or ``timedelta`` (default 30 min, or ``SESSION_COOKIE_AGE``
                               when it is changed from Django's two weeks)
``ABSOLUTE_TIMEOUT``           seconds or ``timedelta`` (default 12 h, at least the idle timeout)
``TRANSPORT``                  ``"cookie"`` or ``"header"``; ``TOKEN_HEADER``,
                               ``RESPONSE_TOKEN_HEADER``, ``CODEC`` as in ``SessionConfig``
``INSECURE_DEVELOPMENT_MODE``  ``True`` lets ``SESSION_COOKIE_SECURE = False`` take effect
``CONFIG``                     a complete :class:`~sessionary.SessionConfig` (overrides all
                               of the above except the store keys)
``OBSERVER``                   a :class:`~sessionary.observability.Observer`
``TENANTS``                    ``{host: tenant}`` or a callable ``host -> tenant`` (or its
                               dotted path): the tenant of each request, resolved from its
                               ``Host`` by sessionary's middleware (400 for a host without
                               one) and bound into every key (SECURITY.md R64)
``COMMIT_ON_ERROR``            ``True`` commits a failed request's changes (a 5xx) like a
                               successful one's; default ``False``: only a logout or a
                               rotation (the other adapters' ``commit_on_error=``)
=============================  ===============================================================

``SESSION_COOKIE_NAME`` is used when changed from ``"sessionid"`` (else ``__Host-session``,
the name the other adapters use by default), with ``SESSION_COOKIE_DOMAIN``/``PATH``/
``SAMESITE`` (``None`` keeps ``Lax``) and ``SESSION_EXPIRE_AT_BROWSER_CLOSE`` (a cookie without
``Max-Age``). ``SESSION_COOKIE_HTTPONLY = False`` is refused: the ID never reaches scripts.
The settings are read once; ``override_settings`` of any of them starts afresh.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from sessionary._async.manager import AsyncSessionManager
from sessionary._async.memory import AsyncMemoryStore
from sessionary._sync.manager import SessionManager
from sessionary._sync.memory import MemoryStore
from sessionary.config import CookieOptions, SessionConfig
from sessionary.exceptions import ConfigurationError
from sessionary.integrations._settings import cookie_setting, samesite_setting, seconds_setting
from sessionary.observability import Observer
from sessionary.sansio.tenants import TenantResolver
from sessionary.stores.base import AsyncSessionStore, SessionStore
from sessionary.stores.memory import MemoryEngine

__all__ = ["Runtime", "config_from_settings", "get_runtime", "reset_runtime"]

_DJANGO_COOKIE_NAME = "sessionid"
_DJANGO_COOKIE_AGE = 1_209_600  # two weeks
_TWELVE_HOURS = 12 * 3600.0
_PASSED_THROUGH = {
    "TRANSPORT": "transport",
    "TOKEN_HEADER": "token_header",
    "RESPONSE_TOKEN_HEADER": "response_token_header",
    "CODEC": "codec",
}


def _options() -> dict[str, Any]:
    options = getattr(settings, "SESSIONARY", {})
    if not isinstance(options, dict):
        msg = "settings.SESSIONARY must be a dict"
        raise ConfigurationError(msg)
    return options


def _cookie(options: dict[str, Any]) -> CookieOptions:
    if not settings.SESSION_COOKIE_HTTPONLY:
        msg = "SESSION_COOKIE_HTTPONLY = False is not supported: the session ID stays HttpOnly"
        raise ConfigurationError(msg)
    insecure = bool(options.get("INSECURE_DEVELOPMENT_MODE", False))
    name = settings.SESSION_COOKIE_NAME
    return cookie_setting(
        name="__Host-session" if name == _DJANGO_COOKIE_NAME else name,
        domain=settings.SESSION_COOKIE_DOMAIN or None,
        path=settings.SESSION_COOKIE_PATH or "/",
        secure=bool(settings.SESSION_COOKIE_SECURE) or not insecure,
        samesite=samesite_setting(settings.SESSION_COOKIE_SAMESITE),
        persistent=not settings.SESSION_EXPIRE_AT_BROWSER_CLOSE,
        insecure_development_mode=insecure,
    )


def config_from_settings() -> SessionConfig:
    """Map ``settings.SESSIONARY`` and Django's ``SESSION_*`` onto a ``SessionConfig``."""
    options = _options()
    if "CONFIG" in options:
        config = options["CONFIG"]
        if not isinstance(config, SessionConfig):
            msg = "SESSIONARY['CONFIG'] must be a sessionary.SessionConfig"
            raise ConfigurationError(msg)
        return config
    kwargs: dict[str, Any] = {}
    age = settings.SESSION_COOKIE_AGE
    if age != _DJANGO_COOKIE_AGE:
        kwargs["idle_timeout"] = seconds_setting(age, "SESSION_COOKIE_AGE")
        kwargs["absolute_timeout"] = max(kwargs["idle_timeout"], _TWELVE_HOURS)
    if "IDLE_TIMEOUT" in options:
        kwargs["idle_timeout"] = seconds_setting(options["IDLE_TIMEOUT"], "IDLE_TIMEOUT")
    if "ABSOLUTE_TIMEOUT" in options:
        kwargs["absolute_timeout"] = seconds_setting(
            options["ABSOLUTE_TIMEOUT"], "ABSOLUTE_TIMEOUT"
        )
    for option, name in _PASSED_THROUGH.items():
        if option in options:
            kwargs[name] = options[option]
    keys = options.get("SECRET_KEYS")
    if keys is not None:
        return SessionConfig(secret_keys=keys, cookie=_cookie(options), **kwargs)
    keys = [settings.SECRET_KEY, *(settings.SECRET_KEY_FALLBACKS or [])]
    try:
        return SessionConfig(secret_keys=keys, cookie=_cookie(options), **kwargs)
    except ConfigurationError as exc:
        if "secret_keys" not in str(exc):
            raise
        msg = f"{exc} (from SECRET_KEY/SECRET_KEY_FALLBACKS; or set SESSIONARY['SECRET_KEYS'])"
        raise ConfigurationError(msg) from exc


def _stores(options: dict[str, Any]) -> tuple[SessionStore | None, AsyncSessionStore | None, bool]:
    """The sync and async stores, and whether they were built here (and are ours to close)."""
    store, async_store = options.get("STORE"), options.get("ASYNC_STORE")
    if store is None and async_store is None:
        url = options.get("STORE_URL", "memory")
        if url == "memory":
            engine = MemoryEngine()
            return MemoryStore(engine=engine), AsyncMemoryStore(engine=engine), True
        from sessionary.stores import AsyncRedisStore, RedisStore  # noqa: PLC0415 - an extra

        prefix = options.get("PREFIX", "sessionary")
        sync, async_ = (
            RedisStore.from_url(url, prefix=prefix),
            AsyncRedisStore.from_url(url, prefix=prefix),
        )
        return sync, async_, True
    if store is None and isinstance(async_store, AsyncMemoryStore):
        store = MemoryStore(engine=async_store.engine)
    elif async_store is None and isinstance(store, MemoryStore):
        async_store = AsyncMemoryStore(engine=store.engine)
    return store, async_store, False


def _tenants(source: object) -> TenantResolver | None:
    """``SESSIONARY['TENANTS']``: a mapping, a callable or the dotted path of one."""
    if source is None:
        return None
    if isinstance(source, str):
        from django.utils.module_loading import import_string  # noqa: PLC0415

        source = import_string(source)
    return TenantResolver(source)  # type: ignore[arg-type] # validated by TenantResolver


class Runtime:
    """One process's sessionary state: the configuration and a sync and an async manager.

    Both managers drive the same sessions (one Redis, or one in-process memory engine), so
    a cycle opened by one may be committed by the other.
    """

    def __init__(
        self,
        config: SessionConfig,
        store: SessionStore | None,
        async_store: AsyncSessionStore | None,
        *,
        owned: bool = False,
        observer: Observer | None = None,
        tenants: TenantResolver | None = None,
        commit_on_error: bool = False,
    ) -> None:
        self.config = config
        self.tenants = tenants
        """Resolves each request's tenant from its host (``SESSIONARY['TENANTS']``), if set."""
        self.store = store
        self._owned = owned
        self._sync = SessionManager(store, config, observer=observer) if store else None
        self.async_manager = (
            AsyncSessionManager(async_store, config, observer=observer) if async_store else None
        )
        """The asyncio manager, or ``None`` (async code then runs the sync one in a thread)."""
        either = self._sync or self.async_manager
        if either is None:
            msg = "sessionary needs a store: set SESSIONARY['STORE_URL'] (or STORE/ASYNC_STORE)"
            raise ConfigurationError(msg)
        self.request_header = either.request_header
        """Header transport: the lower-case request header carrying the ID (else ``None``)."""
        self.commit_on_error = commit_on_error
        """Commit a failed request's changes too (``SESSIONARY["COMMIT_ON_ERROR"]``)."""

    @property
    def manager(self) -> SessionManager:
        """The sync manager."""
        if self._sync is None:
            msg = "sessionary needs a sync store here: set SESSIONARY['STORE'] (or STORE_URL)"
            raise ConfigurationError(msg)
        return self._sync

    def close(self) -> None:
        """Close the sync store if it was built from the settings."""
        if self._owned and self.store is not None:
            self.store.close()


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The process-wide runtime, built from the settings on first use."""
    global _runtime  # noqa: PLW0603 - one per process, like Django's caches
    runtime = _runtime
    if runtime is None:
        with _lock:
            if _runtime is None:
                options = _options()
                store, async_store, owned = _stores(options)
                _runtime = Runtime(
                    config_from_settings(),
                    store,
                    async_store,
                    owned=owned,
                    observer=options.get("OBSERVER"),
                    tenants=_tenants(options.get("TENANTS")),
                    commit_on_error=bool(options.get("COMMIT_ON_ERROR", False)),
                )
            runtime = _runtime
    return runtime


def reset_runtime() -> None:
    """Forget the runtime (closing what it built); the next request reads the settings."""
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
    if runtime is not None:
        runtime.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SESSIONARY", "SECRET_KEY", "SECRET_KEY_FALLBACKS") or setting.startswith(
        "SESSION_"
    ):
        reset_runtime()


setting_changed.connect(_on_setting_changed, dispatch_uid="sessionary.integrations.django")
