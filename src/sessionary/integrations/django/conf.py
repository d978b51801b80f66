"""Django settings → sessionary: the configuration, the stores, the two managers and the gate.

Read from ``settings.SESSIONARY`` (a dict, every key optional) and Django's ``SESSION_*``:

=============================  ===============================================================
``SECRET_KEYS``                key ring, newest first (default: ``SECRET_KEY`` followed by
                               ``SECRET_KEY_FALLBACKS``)
``STORE_URL``                  ``"memory"`` (default), a ``redis://``/``rediss://``/``unix://``
                               URL (``PREFIX``: the Redis key prefix, default ``sessionary``),
                               or ``postgresql://...`` / ``sqlite:///path.db`` (docs/sql.md)
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
``LEGACY`` / ``ASYNC_LEGACY``  a :class:`~sessionary.LegacyMigration` for the sync manager and
                               an :class:`~sessionary.AsyncLegacyMigration` for the asyncio
                               one (or their dotted paths): the read-through migration from
                               Django's own sessions (docs/migration.md)
=============================  ===============================================================

The request options, named as every adapter's (``docs/adapters.md``); a callable may be
given as its dotted path:

=============================  ===============================================================
``TENANTS``                    ``{host: tenant}`` or a callable ``host -> tenant``: resolved
                               from ``Host`` by the middleware (400 for a host without one)
``CSRF``                       sessionary's CSRF checks, opt-in (Django's
                               ``CsrfViewMiddleware`` stays the default): ``None`` the origin
                               check, ``True`` with the token, or a ``CsrfOptions``
``LOCK``                       ``True`` or a callable of the ``HttpRequest``: the per-session
                               lock (busy → 409)
``STORE_DOWN``                 a ``StoreDownPolicy`` (or its name) or a callable of the
                               ``HttpRequest`` choosing one per request
``LAZY``                       ``True``: a request's session is loaded when the view first
                               uses ``request.session`` (one round trip), and a view that
                               never does makes no store call (requests that check a CSRF
                               token or take the lock load at once)
``COMMIT_ON_ERROR``            ``True`` commits a failed request's changes (a 5xx) like a
                               successful one's; default ``False``: only a logout or a rotation
=============================  ===============================================================

The settings are read once; ``override_settings`` of any of them starts afresh.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.signals import setting_changed

from sessionary._async.manager import AsyncSessionManager
from sessionary._async.migration import AsyncLegacyMigration
from sessionary._sync.manager import SessionManager
from sessionary._sync.migration import LegacyMigration
from sessionary.config import SessionConfig, StoreDownPolicy
from sessionary.exceptions import ConfigurationError
from sessionary.integrations.django.config import (
    config_from_settings,
    sessionary_settings,
    stores_from_settings,
)
from sessionary.observability import Observer
from sessionary.sansio.csrf import CsrfOptions
from sessionary.sansio.gate import Gate, LockChoice, StoreDownChoice
from sessionary.sansio.tenants import TenantResolver
from sessionary.stores.base import AsyncSessionStore, SessionStore

__all__ = ["Runtime", "config_from_settings", "get_runtime", "reset_runtime"]

_POLICIES = {policy.value for policy in StoreDownPolicy}


def _imported(value: Any) -> Any:
    """A setting that may name a callable by its dotted path (not a store-down policy name)."""
    if isinstance(value, str) and value not in _POLICIES:
        from django.utils.module_loading import import_string  # noqa: PLC0415

        return import_string(value)
    return value


class Runtime:
    """One process's sessionary state: the configuration, a sync and an async manager, the gate.

    Both managers drive the same sessions (one Redis, or one in-process memory engine), so
    a cycle opened by one may be committed by the other; one gate serves both.
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
        csrf: CsrfOptions | bool | None = False,
        lock: LockChoice | None = None,
        store_down: StoreDownChoice | None = None,
        legacy: LegacyMigration | None = None,
        async_legacy: AsyncLegacyMigration | None = None,
        lazy: bool = False,
    ) -> None:
        self.config = config
        self.lazy = lazy
        """Load each request's session on first use (``SESSIONARY["LAZY"]``)."""
        self.tenants = tenants
        """Resolves each request's tenant from its host (``SESSIONARY['TENANTS']``), if set."""
        self.store = store
        self._owned = owned
        self._sync = (
            SessionManager(store, config, observer=observer, legacy=legacy) if store else None
        )
        self.async_manager = (
            AsyncSessionManager(async_store, config, observer=observer, legacy=async_legacy)
            if async_store
            else None
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
        if tenants is not None:  # user-level operations must then name their tenant
            for manager in (self._sync, self.async_manager):
                if manager is not None:
                    manager.scope_by_tenant()
        self.gate = Gate(
            either.core,
            csrf=csrf,  # off by default: Django's CsrfViewMiddleware is in charge
            tenants=tenants,
            lock=lock,
            store_down=store_down,
            commit_on_error=commit_on_error,
            multipart=True,
        )
        """The request gate of sessionary's middleware (``TENANTS``, ``CSRF``, ``LOCK``...)."""

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


def _build() -> Runtime:
    options = sessionary_settings()
    store, async_store, owned = stores_from_settings(options)
    tenants = _imported(options.get("TENANTS"))
    return Runtime(
        config_from_settings(),
        store,
        async_store,
        owned=owned,
        observer=options.get("OBSERVER"),
        tenants=None if tenants is None else TenantResolver(tenants),
        commit_on_error=bool(options.get("COMMIT_ON_ERROR", False)),
        csrf=options.get("CSRF", False),
        lock=_imported(options.get("LOCK")),
        store_down=_imported(options.get("STORE_DOWN")),
        legacy=_imported(options.get("LEGACY")),
        async_legacy=_imported(options.get("ASYNC_LEGACY")),
        lazy=bool(options.get("LAZY", False)),
    )


def get_runtime() -> Runtime:
    """The process-wide runtime, built from the settings on first use."""
    global _runtime  # noqa: PLW0603 - one per process, like Django's caches
    runtime = _runtime
    if runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = _build()
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
