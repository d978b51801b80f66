"""The sans-IO core: pure decisions, no sockets, no asyncio, no frameworks.

Everything that decides how a session behaves lives here and is tested without I/O; the
I/O shell (:mod:`sessionary._async` and its generated twin :mod:`sessionary._sync`) only
performs the operations this package returns.
"""

from sessionary.sansio.cycle import ResponseUpdate, SessionCore, SessionCycle
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
