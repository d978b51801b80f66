"""The answers every adapter gives when a request or its commit fails, so they cannot drift.

Raised by :meth:`~sessionary.SessionManager.commit` and answered instead of the application's
response (which is discarded, with its ``Set-Cookie``):

* :class:`~sessionary.exceptions.StoreUnavailableError` → 503 (the store is down);
* :class:`~sessionary.exceptions.SessionLimitError` → 403 (a login over
  ``max_sessions_per_user`` with ``reject_new``; nothing was written);
* :class:`~sessionary.exceptions.StoreConflictError` and
  :class:`~sessionary.exceptions.LockError` → 409 (a conflicting write, or a lock lost or
  never obtained, e.g. concurrent logins of one user that waited too long for each other).

A *failed* request — the handler raised (the framework answers 500) or the response is a
5xx — commits only what must hold for security: a logout and an explicit rotation (the
response still carries the cleared cookie or the new ID). Everything else the handler changed
is dropped (``manager.commit(cycle, failed=True)``). Each adapter's ``commit_on_error=True``
(Django: ``SESSIONARY["COMMIT_ON_ERROR"]``) commits a failed request like a successful one.
"""

from __future__ import annotations

from sessionary.exceptions import (
    LockError,
    SessionLimitError,
    StoreConflictError,
    StoreUnavailableError,
)
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle

__all__ = ["COMMIT_ERRORS", "commit_failure", "delivers_id", "failed", "store_was_down"]

COMMIT_ERRORS = (StoreUnavailableError, SessionLimitError, StoreConflictError, LockError)
"""The commit failures an adapter answers itself (anything else is the application's 500)."""


def commit_failure(error: BaseException) -> tuple[int, str]:
    """The HTTP status and reason phrase for one of :data:`COMMIT_ERRORS`."""
    if isinstance(error, StoreUnavailableError):
        return 503, "Service Unavailable"
    if isinstance(error, SessionLimitError):
        return 403, "Forbidden"
    return 409, "Conflict"


def failed(status: int, commit_on_error: bool) -> bool:
    """Whether ``status`` ends a failed request (only a logout or a rotation is committed)."""
    return status >= 500 and not commit_on_error


def store_was_down(status: int, cycle: SessionCycle) -> bool:
    """A 500 after the handler touched a session the store could not load: answer 503.

    For frameworks that turn the session's ``StoreUnavailableError`` into their own 500
    before the adapter sees it (an application wrapped whole by a middleware). Another
    status (an application's own 503 page) is the application's answer and is kept.
    """
    return status == 500 and cycle.session.refused


def delivers_id(update: ResponseUpdate) -> bool:
    """Whether ``update`` sets or clears the client's ID (it must reach the client)."""
    return update.set_cookie is not None or update.token_header is not None
