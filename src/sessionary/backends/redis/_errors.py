"""Mapping redis-py exceptions to sessionary's store errors, at the store boundary."""

from __future__ import annotations

import os
from types import TracebackType

from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sessionary.exceptions import StoreError, StoreTimeoutError, StoreUnavailableError

__all__ = ["TRANSITIONAL", "mapped_redis_errors"]

TRANSITIONAL = (
    ClusterDownError,  # CLUSTERDOWN, and MASTERDOWN (a replica lost its primary)
    TryAgainError,  # TRYAGAIN: a slot is being migrated
    AskError,  # MOVED/ASK left over after the client's own redirections
    SlotNotCoveredError,  # the client's slot map has a hole (a primary just failed)
    ClusterError,
    ReadOnlyError,  # a write reached a primary that was just demoted to a replica
)
"""Errors of a topology in transition (failover, resharding): the store is *unavailable*."""


class mapped_redis_errors:  # noqa: N801 - a context manager used like a function
    """Re-raise redis-py errors as ``StoreTimeoutError``/``StoreUnavailableError``/``StoreError``.

    Failover and resharding errors (:data:`TRANSITIONAL`) count as unavailability (503), not
    as a refusal: they go away once the topology settles.

    Works around ``await`` expressions too: the mapping happens when the exception leaves
    the ``with`` block. A plain class rather than ``@contextmanager``: it wraps every store
    call, and a generator-based context manager costs a few microseconds each time.
    """

    __slots__ = ("operation",)

    def __init__(self, operation: str) -> None:
        self.operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        operation = self.operation
        if isinstance(exc, RedisTimeoutError):
            msg = f"Redis did not answer in time ({operation})"
            raise StoreTimeoutError(msg) from exc
        if isinstance(exc, (RedisConnectionError, OSError, *TRANSITIONAL)):
            msg = f"Redis is unavailable ({operation}: {type(exc).__name__})"
            raise StoreUnavailableError(msg) from exc
        if isinstance(exc, RedisClusterException):  # not a RedisError: cluster client failures
            msg = f"Redis Cluster is unavailable ({operation}: {type(exc).__name__})"
            raise StoreUnavailableError(msg) from exc
        if isinstance(exc, AttributeError):
            # redis-py's asyncio Cluster client can disconnect a connection another task is
            # writing to while it refreshes its slot map (seen under failover: "'NoneType'
            # object has no attribute 'writelines'"). A connection failure, not a bug of the
            # caller; any other AttributeError propagates unchanged.
            if not _raised_inside_redis_py(exc):
                return
            msg = f"Redis connection failed mid-command ({operation}: {exc})"
            raise StoreUnavailableError(msg) from exc
        if isinstance(exc, RedisError):
            msg = f"Redis refused {operation}: {exc}"
            raise StoreError(msg) from exc


_REDIS_PACKAGE = f"{os.sep}redis{os.sep}"


def _raised_inside_redis_py(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is in the redis-py package."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return _REDIS_PACKAGE in tb.tb_frame.f_code.co_filename
