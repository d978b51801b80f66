"""The signal a driver raises when the database aborted a transaction that may run again."""

from __future__ import annotations

from sessionary.exceptions import StoreConflictError

__all__ = ["Retry"]


class Retry(StoreConflictError):  # noqa: N818 - a signal between driver and store, not an error
    """Raised by a driver when the database aborted a transaction that may simply run again.

    A deadlock or a serialisation failure: the store runs the transaction again.
    """
