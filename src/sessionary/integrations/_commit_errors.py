"""The answer every adapter gives when a session's commit fails, so they cannot drift apart.

Raised by :meth:`~sessionary.SessionManager.commit` and answered instead of the application's
response (which is discarded, with its ``Set-Cookie``):

* :class:`~sessionary.exceptions.StoreUnavailableError` → 503 (the store is down);
* :class:`~sessionary.exceptions.SessionLimitError` → 403 (a login over
  ``max_sessions_per_user`` with ``reject_new``; nothing was written);
* :class:`~sessionary.exceptions.StoreConflictError` and
  :class:`~sessionary.exceptions.LockError` → 409 (a conflicting write, or a lock lost or
  never obtained, e.g. concurrent logins of one user that waited too long for each other).
"""

from __future__ import annotations

from sessionary.exceptions import (
    LockError,
    SessionLimitError,
    StoreConflictError,
    StoreUnavailableError,
)

__all__ = ["COMMIT_ERRORS", "commit_failure"]

COMMIT_ERRORS = (StoreUnavailableError, SessionLimitError, StoreConflictError, LockError)
"""The commit failures an adapter answers itself (anything else is the application's 500)."""


def commit_failure(error: BaseException) -> tuple[int, str]:
    """The HTTP status and reason phrase for one of :data:`COMMIT_ERRORS`."""
    if isinstance(error, StoreUnavailableError):
        return 503, "Service Unavailable"
    if isinstance(error, SessionLimitError):
        return 403, "Forbidden"
    return 409, "Conflict"
