"""The manager an adapter drives: the one given, or one built from ``store`` and ``config``."""

from __future__ import annotations

from typing import Any, TypeVar

from sessionary._async.manager import AsyncSessionManager
from sessionary._sync.manager import SessionManager
from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError
from sessionary.observability import Observer

__all__ = ["manager_for"]

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
