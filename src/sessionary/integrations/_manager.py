"""What every adapter builds once per mount: the manager it drives and the gate it asks."""

from __future__ import annotations

from typing import Any, TypeVar

from sessionary._async.manager import AsyncSessionManager
from sessionary._sync.manager import SessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError
from sessionary.observability import Observer
from sessionary.sansio.gate import Gate, GateOptions, WebSocketGateOptions

__all__ = ["gate_for", "manager_for"]

M = TypeVar("M", SessionManager, AsyncSessionManager)


def manager_for(
    kind: type[M],
    manager: M | None,
    store: Any,
    config: SessionConfig | None,
    *,
    observer: Observer | None,
    owner: str,
) -> M:
    """``manager``, else a ``kind`` for ``store`` and ``config`` (``owner`` names the adapter)."""
    if manager is not None:
        return manager
    if store is None or config is None:
        msg = f"{owner} needs store= and config= (or a manager=)"
        raise ConfigurationError(msg)
    return kind(store, config, observer=observer)


def gate_for(
    manager: SessionManager | AsyncSessionManager,
    options: GateOptions | WebSocketGateOptions,
    *,
    multipart: bool = False,
) -> Gate:
    """The mount's request gate for ``options``.

    With ``tenants``, the manager is scoped by tenant: a user-level operation without
    ``tenant=`` (``revoke_user("42")``) is then an error, not the empty tenant's user.
    """
    if options.get("tenants") is not None:
        manager.scope_by_tenant()
    return Gate(manager.core, multipart=multipart, **options)
