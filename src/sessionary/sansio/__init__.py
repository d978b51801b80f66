"""The sans-IO core: pure decisions, no sockets, no asyncio, no frameworks.

Everything that decides how a session behaves lives here and is tested without I/O; the
I/O shell (:mod:`sessionary._async` and its generated twin :mod:`sessionary._sync`) only
performs the operations this package returns. The names below are loaded on first use, so
importing one module of the package (``sessionary.sansio.ops``) loads only what it needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessionary.sansio.core import SessionCore
    from sessionary.sansio.cycle import SessionCycle
    from sessionary.sansio.events import EventName, SessionEvent
    from sessionary.sansio.ops import (
        CommitResult,
        CommitStatus,
        Create,
        Destroy,
        Load,
        LoadResult,
        LoadStatus,
        Operation,
        RecordMeta,
        StoredSession,
        Update,
    )
    from sessionary.sansio.response import ResponseUpdate
    from sessionary.sansio.session import Session

__all__ = [
    "CommitResult",
    "CommitStatus",
    "Create",
    "Destroy",
    "EventName",
    "Load",
    "LoadResult",
    "LoadStatus",
    "Operation",
    "RecordMeta",
    "ResponseUpdate",
    "Session",
    "SessionCore",
    "SessionCycle",
    "SessionEvent",
    "StoredSession",
    "Update",
]

_HOMES = {
    "SessionCore": "core",
    "SessionCycle": "cycle",
    "ResponseUpdate": "response",
    "Session": "session",
    "EventName": "events",
    "SessionEvent": "events",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(f"{__name__}.{_HOMES.get(name, 'ops')}"), name)
    globals()[name] = value
    return value
